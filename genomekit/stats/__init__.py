"""Monte-Carlo genome statistics: collection pipeline, Parquet store and estimators (StyleGenes eq. 7).

Layout and formats: docs/STATS.md. Estimators are pure tensor functions in ``estimate``.
"""

from genomekit.stats.collect import CollectConfig, CollectResult, collect_stats, finalize_stats
from genomekit.stats.estimate import (
    UndersampledVariantsWarning,
    attribute_given_variant,
    realness_given_variant,
    undersampled_variants,
    variant_sums,
)
from genomekit.stats.store import (
    Stats,
    VariantTotals,
    classifier_source,
    damaged_shards,
    load_stats,
    read_shard,
    recompute_sums_from_shards,
)

__all__ = [
    "CollectConfig",
    "CollectResult",
    "Stats",
    "UndersampledVariantsWarning",
    "VariantTotals",
    "attribute_given_variant",
    "classifier_source",
    "collect_stats",
    "damaged_shards",
    "finalize_stats",
    "load_stats",
    "read_shard",
    "realness_given_variant",
    "recompute_sums_from_shards",
    "undersampled_variants",
    "variant_sums",
]
