"""Settings only the Vertex AI platform uses (Prefect 1.4.1's ``VertexAgent`` arguments)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.validators import positive

DEFAULT_REGION = "us-central1"


@attrs.frozen(kw_only=True)
class VertexSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.VERTEX

    project: str | None = attrs.field(
        default=None,
        metadata={"help": "Google Cloud project of the jobs (default: from google.auth)."},
    )
    region_name: str = attrs.field(
        default=DEFAULT_REGION, metadata={"help": "Region the custom jobs run in."}
    )
    service_account: str | None = attrs.field(
        default=None, metadata={"help": "Service account flow-run jobs act as."}
    )
    api_endpoint: str | None = attrs.field(
        default=None,
        metadata={"help": "Vertex AI API address (default: <region>-aiplatform.googleapis.com)."},
    )
    job_sync_interval_seconds: float = attrs.field(
        default=10.0,
        validator=positive,
        metadata={"help": "Seconds between two passes reading launched jobs' states."},
    )

    @property
    def endpoint(self) -> str:
        return self.api_endpoint or f"{self.region_name}-aiplatform.googleapis.com"

    @property
    def parent(self) -> str:
        """``projects/<project>/locations/<region>``; the project must be resolved first."""
        return f"projects/{self.project}/locations/{self.region_name}"
