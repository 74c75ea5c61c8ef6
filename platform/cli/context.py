"""The objects a command needs, built once from settings and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from recplat.quality.gate import Gate
from recplat.registry.store import MetadataStore
from recplat.settings import Settings


@dataclass
class PlatformContext:
    """Settings plus the metadata store and the data-quality gate (built on first use)."""

    settings: Settings
    _metadata: MetadataStore | None = field(default=None, repr=False)

    @cached_property
    def metadata(self) -> MetadataStore:
        """The platform metadata database."""
        self.settings.ensure_dirs()
        return self._metadata or MetadataStore(url=self.settings.metadata_url)

    @cached_property
    def gate(self) -> Gate:
        """The GX gate (importing GX takes seconds, so only when needed)."""
        from recplat.quality.gx_adapter import GXValidator

        return Gate(
            validator=GXValidator(),
            metadata=self.metadata,
            quarantine_root=self.settings.quarantine_dir,
            reports_root=self.settings.reports_dir,
        )
