"""`make run`: all of calsync on one machine, without Docker or an AWS account.

- an AWS emulator (moto server) on http://127.0.0.1:5000 (``emulator``);
- template.yaml's queues (with redrive), tables (keys, indexes, TTL) and the local
  connection's signing-key secret, created from the template itself (``stack``);
- the REST API's routes on http://127.0.0.1:3000, each request turned into the proxy event
  API Gateway would send (request validator and gateway responses included) and handed to
  the function the template names, run with the template's environment (``gateway``,
  ``calsync_dev.functions``);
- the SQS event-source mappings: batch size from the template, partial batch failures
  honoured, the DLQ after the queue's maxReceiveCount (``calsync_dev.pump``);
- the schedules: scheduled functions invoked at their rate, and on demand with
  ``POST /_local/schedules/<FunctionLogicalId>`` (``scheduler``);
- a fake Calendly for OAuth and the API calls (``calsync_dev.fake_calendly``).

Ctrl-C stops intake first, lets every accepted delivery be processed, then saves the
emulator's tables, queues and secrets to ``.calsync/local-state.json`` so the next
``make run`` starts where this one stopped (``state``). Ports and paths: ``config``.
"""
