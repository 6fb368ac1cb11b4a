"""Errors raised by the pure transforms.

One exception type so asset bodies can turn any bad provider payload into a
clear run failure *before* anything is written.
"""


class MalformedRecordsError(ValueError):
    """Provider records that cannot be parsed or violate the wire contract."""
