import pytest

from fleet_protocol import InvalidIdError, chunk_filename, validate_chunk_no, validate_trip_id, validate_vin


@pytest.mark.parametrize(
    "bad",
    ["../etc/passwd", "/abs/path", "..", "", "not-a-uuid", "00000000-0000-0000-0000-00000000123G",
     "00000000-0000-0000-0000-000000001234/..", "00000000-0000-0000-0000-00000000ABCD",
     "{00000000-0000-0000-0000-000000001234}", "00000000000000000000000000001234"],
)
def test_trip_id_rejects_path_tricks_and_non_canonical_forms(bad):
    with pytest.raises(InvalidIdError, match="trip_id must be"):
        validate_trip_id(bad)


def test_trip_id_accepts_canonical_uuid(trip_id):
    assert validate_trip_id(trip_id) == trip_id


@pytest.mark.parametrize("bad", ["0", "-1", "01", "1/../2", "１", "100000", "1.0", "", "a"])
def test_chunk_no_rejects_non_plain_numbers(bad):
    with pytest.raises(InvalidIdError, match="chunk_no must be"):
        validate_chunk_no(bad)


def test_chunk_filename(trip_id):
    assert validate_chunk_no("12") == 12
    assert chunk_filename(trip_id, 3) == f"{trip_id}-3.ndjson.gz"


@pytest.mark.parametrize("bad", ["WAUZZZFY0R123456", "WAUZZZFY0R1234567X", "WAUZZZFY0R123456O", "../WAUZZZFY0R12345"])
def test_vin_validation(bad):
    assert validate_vin("WAUZZZFY0R1234567") == "WAUZZZFY0R1234567"
    with pytest.raises(InvalidIdError, match="vin must be 17 characters"):
        validate_vin(bad)


def test_trip_id_fast_path_accepts_exactly_the_canonical_round_trip():
    """The regex fast path must agree with str(uuid.UUID(s)) == s on canonical ids and their near misses."""
    import random
    import uuid

    rng = random.Random(7)
    for _ in range(500):
        canonical = str(uuid.UUID(int=rng.getrandbits(128)))
        variants = [canonical, canonical.upper(), canonical.replace("-", ""), "{" + canonical + "}",
                    "urn:uuid:" + canonical, canonical[:-1] + "g", canonical[:8] + "_" + canonical[9:], canonical + "\n"]
        for value in variants:
            try:
                ok = str(uuid.UUID(value)) == value
            except ValueError:
                ok = False
            if ok:
                assert validate_trip_id(value) == value
            else:
                with pytest.raises(InvalidIdError):
                    validate_trip_id(value)
