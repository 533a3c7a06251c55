"""Known deviations of the embedded broker (Tansu) from Apache Kafka, and how we detect it.

Tansu 0.6 reports a partition's end offset (ListOffsets "latest" and the fetch high
watermark) as the base offset of the *last record batch* + 1, not the offset after the last
record. Faust's changelog recovery reads "up to the end offset", so it would silently skip
the tail of the last batch and restore stale account state after a restart. On Tansu the
worker therefore closes every changelog write with a one-record marker batch (see app.py),
which makes the reported end offset true again. Real Kafka needs none of this.
"""

from __future__ import annotations

from kafka import KafkaAdminClient

# A table key no account can have (account ids are validated, non-empty text without NUL).
CHANGELOG_MARKER_KEY = b"\x00cs-signals:end-of-batch"


def is_tansu(bootstrap: str) -> bool:
    admin = KafkaAdminClient(bootstrap_servers=[s.strip() for s in bootstrap.split(",")])
    try:
        cluster_id = str(admin.describe_cluster().get("cluster_id") or "")
    except Exception:  # an older broker without DescribeCluster is not Tansu
        return False
    finally:
        admin.close()
    return cluster_id.startswith("tansu")
