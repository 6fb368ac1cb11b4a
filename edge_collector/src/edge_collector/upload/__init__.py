"""Trip upload: resumable HTTP upload to the ingest server, or export to a directory.

Local data is only marked uploaded after the server confirmed the trip
complete (its manifest matched every chunk); everything before that is safe
to repeat because every request of the protocol is idempotent.
"""

from edge_collector.upload.client import IngestClient, TransientUploadError, UploadRejected
from edge_collector.upload.export import export_trip
from edge_collector.upload.uploader import RetryPolicy, UploadResult, upload_ready_trips, upload_trip

__all__ = [
    "IngestClient",
    "RetryPolicy",
    "TransientUploadError",
    "UploadRejected",
    "UploadResult",
    "export_trip",
    "upload_ready_trips",
    "upload_trip",
]
