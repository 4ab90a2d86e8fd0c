"""Talking to other systems: the webhook outbox for hand-offs, and the sender that delivers it."""
