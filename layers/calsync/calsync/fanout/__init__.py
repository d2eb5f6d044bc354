"""Scheduled work fanned out per connection: dispatchers list connections a page at a time and send
one unit of work per connection to the job's queue; workers run one unit each (docs/scale.md)."""
