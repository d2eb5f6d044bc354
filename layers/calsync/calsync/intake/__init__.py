"""Webhook intake: signatures, envelopes, routing, the delivery contract and the receiver's decision."""
