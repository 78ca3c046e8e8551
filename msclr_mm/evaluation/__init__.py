from .fusion import DEFAULT_STREAM_COEFFS, accuracy_metrics, ensemble_formats, fuse_streams  # noqa: F401
from .report import build_report, load_dump, read_dump, report_markdown, write_report  # noqa: F401
