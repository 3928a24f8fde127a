"""GovNet's input rules (egactl_govnet.rules), as both the commands and the backend apply them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from egactl_govnet import rules as v


@pytest.mark.parametrize("text, bps", [
    ("20M", 20_000_000), ("1G", 1_000_000_000), ("512k", 512_000), ("512K", 512_000), ("1.5G", 1_500_000_000),
    ("20Mbps", 20_000_000), ("20 M", 20_000_000), ("100000", 100_000), ("64k", 64_000), ("100G", 100_000_000_000),
])
def test_bandwidths(text, bps):
    assert v.parse_bandwidth(text) == bps


@pytest.mark.parametrize("text", ["20MB/s", "20MB", "20 Mbytes", "fast", "", "-5M", "20T", "1.0000001k", "63k", "101G", "M"])
def test_bad_bandwidths(text):
    with pytest.raises(ValueError):
        v.parse_bandwidth(text)


@given(st.integers(min_value=v.MIN_BANDWIDTH, max_value=v.MAX_BANDWIDTH))
def test_formatted_bandwidth_reads_back_exactly(bps):
    assert v.parse_bandwidth(v.format_bandwidth(bps)) == bps


def test_pool_cidrs():
    assert str(v.parse_pool_cidr("10.20.0.0/16")) == "10.20.0.0/16"
    for bad, message in [("10.20.0.1/16", "host bits"), ("10.20.0.0", "no prefix length"), ("10.0.0.0/7", "between /8"),
                         ("10.20.0.0/31", "between /8"), ("fd00::/48", "IPv4"), ("ten/8", "CIDR")]:
        with pytest.raises(ValueError, match=message):
            v.parse_pool_cidr(bad)


def test_prefix_lengths():
    pool = v.parse_pool_cidr("10.20.0.0/16")
    assert v.check_prefix_length(16, pool) is None and v.parse_prefix_length("/29") == 29
    assert "larger than the pool" in v.check_prefix_length(15, pool)
    for bad in ("31", "7", "x"):
        with pytest.raises(ValueError):
            v.parse_prefix_length(bad)


def test_pops_regions_and_vlan_ranges():
    assert v.normalise_pop("dar es salaam") == "DAR-ES-SALAAM" and v.normalise_region("DAR-ES-SALAAM") == "Dar es Salaam"
    assert v.parse_vlan_range("dodoma=100-899") == ("DODOMA", 100, 899)
    assert v.parse_vlan_range("Mwanza:42") == ("MWANZA", 42, 42)
    for bad in ("DODOMA", "DODOMA=0-10", "DODOMA=10-4095", "DODOMA=20-10", "NOWHERE=1-2", "DODOMA=a-b"):
        with pytest.raises(ValueError):
            v.parse_vlan_range(bad)
    assert "two VLAN ranges" in v.check_vlan_ranges([("DODOMA", 1, 2), ("DODOMA", 5, 6)])
    assert v.check_vlan_ranges([("DODOMA", 1, 2), ("ARUSHA", 1, 2)]) is None


def test_site_references_and_phones():
    assert v.parse_site_ref("rita/dodoma-hq", None) == ("RITA", "dodoma-hq")
    assert v.parse_site_ref("dodoma-hq", "TRA") == ("TRA", "dodoma-hq")
    with pytest.raises(ValueError, match="INSTITUTION/SITE"):
        v.parse_site_ref("dodoma-hq", None)
    from egactl.plugin.rules import normalise_phone  # govnet's contact numbers: the SDK's one rule

    assert normalise_phone("0754 123 456") == normalise_phone("255754123456") == "+255754123456"
    with pytest.raises(ValueError):
        normalise_phone("754")
