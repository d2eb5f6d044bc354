"""The pages a customer sees when connecting Calendly (the OAuth callback's answer in a browser):
one for success and one per failure, each saying what happened and what to do next.

Self-contained: inline CSS and an inline SVG mark, no external asset, no script. Every text is
HTML-escaped. The Content-Security-Policy allows only this page's own stylesheet (by hash), so
nothing injected could load, run, frame the page or submit anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import html

CSS = (
    ":root{color-scheme:light;--ok:#1a7f4b;--bad:#b3261e;--ink:#1f2430;--muted:#5b6270}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;"
    "background:linear-gradient(160deg,#eef2f8,#dfe6f1);color:var(--ink);"
    "font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}"
    "main{width:min(34rem,calc(100% - 2rem));background:#fff;border-radius:14px;padding:2.25rem 2.5rem;"
    "box-shadow:0 10px 30px rgba(31,36,48,.12);border-top:6px solid var(--accent)}"
    ".ok{--accent:var(--ok)}.failed{--accent:var(--bad)}"
    "svg{width:3rem;height:3rem;display:block;margin-bottom:1rem}"
    "h1{margin:0 0 .75rem;font-size:1.6rem;line-height:1.25;color:var(--accent)}"
    "p{margin:0 0 .9rem}.next{font-weight:600}"
    "footer{margin-top:1.5rem;padding-top:.9rem;border-top:1px solid #e4e7ee;color:var(--muted);font-size:.85rem}"
    "code{font:.85rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f7;"
    "padding:.1rem .35rem;border-radius:4px}"
)
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# the same policy in the page itself (a saved copy keeps it; frame-ancestors works as a header only)
META_CSP = CSP.removesuffix("; frame-ancestors 'none'")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the callback's own URL holds the code and state
    "Cache-Control": "no-store",
}

# reason → (heading, what to do next); the message above it says what happened
GUIDES: dict[str, tuple[str, str]] = {
    "connected": ("Connected to Calendly", "New and changed bookings now reach calsync. You can close this window."),
    "access_denied": (
        "Connection not approved",
        "Nothing was connected. To connect, start again and choose Allow when Calendly asks.",
    ),
    "authorization_failed": (
        "Calendly did not finish the authorization",
        "Nothing was connected. Start the connection again.",
    ),
    "invalid_state": (
        "This connection link no longer works",
        "A link works once, for 10 minutes. Start the connection again for a new link.",
    ),
    "missing_parameters": ("Incomplete answer from Calendly", "Nothing was connected. Start the connection again."),
    "calendly_error": (
        "Calendly refused the connection",
        "Calendly may be briefly unavailable: wait a minute, then start the connection again.",
    ),
    "missing_scopes": (
        "Calendly permissions missing",
        "The app needs the permissions named above; once they are added, connect again.",
    ),
    "forbidden": (
        "Calendly did not allow the webhook subscription",
        "Check the Calendly plan and the app's permissions, then connect again.",
    ),
    "refresh_in_progress": ("Busy for a moment", "This connection is being refreshed: connect again in a few minutes."),
    "oauth_app_incomplete": (
        "Connecting is not set up yet",
        "The operator has to finish setting up the Calendly app first; please let them know.",
    ),
    "unavailable": ("Temporarily unavailable", "Nothing was lost: start the connection again in a minute."),
}
FALLBACK = ("Not connected", "Start the connection again; if it keeps failing, contact support with the code below.")

_MARK_OK = "<path d='M14 25l7 7 13-15' fill='none' stroke='#fff' stroke-width='4' stroke-linecap='round'/>"
_MARK_BAD = "<path d='M17 17l14 14M31 17L17 31' fill='none' stroke='#fff' stroke-width='4' stroke-linecap='round'/>"


def heading(reason: str) -> str:
    return GUIDES.get(reason, FALLBACK)[0]


def render(status: int, title: str, message: str, reason: str) -> str:
    """The page's HTML: ``title`` as heading, ``message`` (what happened), the next step for
    ``reason``, and ``reason`` itself as a reference code."""
    ok = status == 200
    colour, mark = ("#1a7f4b", _MARK_OK) if ok else ("#b3261e", _MARK_BAD)
    next_step = GUIDES.get(reason, FALLBACK)[1]
    e = html.escape
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{META_CSP}\">"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<meta name='robots' content='noindex'><title>{e(title)} · calsync</title><style>{CSS}</style></head>"
        f"<body><main class='{'ok' if ok else 'failed'}' role='{'status' if ok else 'alert'}'>"
        f"<svg viewBox='0 0 48 48' aria-hidden='true'><circle cx='24' cy='24' r='24' fill='{colour}'/>{mark}</svg>"
        f"<h1>{e(title)}</h1><p class='message'>{e(message)}</p><p class='next'>{e(next_step)}</p>"
        f"<footer>calsync · reference <code>{e(reason)}</code></footer></main></body></html>"
    )
