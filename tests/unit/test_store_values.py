"""What the store hands DynamoDB: JSON-shaped values with floats as exact Decimals."""

from decimal import Decimal

from calsync.store.bookings import _dynamo_safe, to_plain


def test_floats_become_the_decimal_they_print_as_and_come_back_as_numbers() -> None:
    # Given a payment as Calendly sends it, with floats nested in lists and objects
    payment = {"amount": 40.1, "currency": "USD", "terms": None, "lines": [1, 2.5, {"fee": 0.3}], "paid": True}
    # When it is made DynamoDB-safe
    safe = _dynamo_safe(payment)
    # Then floats are exact Decimals, everything else is untouched
    assert safe == {
        "amount": Decimal("40.1"),
        "currency": "USD",
        "terms": None,
        "lines": [1, Decimal("2.5"), {"fee": Decimal("0.3")}],
        "paid": True,
    }
    # And reading it back gives the original JSON values
    assert to_plain(safe) == payment
