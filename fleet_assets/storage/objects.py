"""One object-store interface for every file the platform keeps: local disk or S3-compatible storage.

Why: datasets, raw fetches and the landing zone must live on shared storage once
there is more than one machine, and every writer must keep its atomicity rule
there too. Callers speak in ``/``-separated keys relative to the store's root
and use only these operations, so nothing relies on rename or on listing order:

- ``write``: replace an object; readers see the old or the new body, never part of one.
  Local disk: temp file, fsync, ``os.replace``. S3: one ``PutObject`` (atomic by S3's
  strong read-after-write consistency), or a multipart upload that only becomes
  visible when completed (``upload_file``; boto3 aborts it on failure).
- ``create``: create-only; ``False`` if the key exists. Local: ``os.link`` of a synced
  temp file. S3: ``PutObject`` with ``If-None-Match: *`` (412 when the key exists);
  :func:`check_conditional_writes` refuses a bucket that ignores the condition.

Library choice: boto3 (the AWS SDK) for object operations, because it is the client
that exposes conditional writes and aborts failed multipart uploads; ``pyarrow.fs``
(``arrow_filesystem``) for reading datasets with pyarrow and DuckDB. Both resolve the
standard AWS variables; no S3 protocol code is written here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import pyarrow.fs as pafs


class StorageError(RuntimeError):
    """The object store is unreachable, missing or refuses us; the message names the setting to fix."""


class ObjectStore(Protocol):
    url: str

    def read(self, key: str) -> bytes | None: ...
    def download(self, key: str, local_file: Path) -> bool: ...
    def write(self, key: str, data: bytes) -> None: ...
    def upload(self, key: str, local_file: Path, *, consume: bool = False) -> None: ...
    def staging_file(self, key: str) -> Path: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def list(self, prefix: str) -> list[str]: ...
    def children(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]: ...


def _clean(key: str) -> str:
    parts = [p for p in key.strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return "/".join(parts)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _temp_beside(target: Path) -> Path:
    """A hidden temp name in ``target``'s directory (same filesystem: ``os.replace``/``os.link`` are atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"


@dataclass(frozen=True)
class LocalStore:
    """A directory on local disk (the embedded default)."""

    root: Path
    fsync: bool = True

    @property
    def url(self) -> str:
        return Path(self.root).resolve().as_uri()

    def path(self, key: str) -> Path:
        return Path(self.root) / _clean(key)

    def _staged(self, target: Path, data: bytes) -> Path:
        tmp = _temp_beside(target)
        with open(tmp, "wb") as fh:
            fh.write(data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        return tmp

    def _sync_dir(self, directory: Path) -> None:
        if self.fsync:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def download(self, key: str, local_file: Path) -> bool:
        """Copy ``key`` into ``local_file``; ``False`` if it does not exist."""
        try:
            shutil.copyfile(self.path(key), local_file)
            return True
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False

    def write(self, key: str, data: bytes) -> None:
        target = self.path(key)
        tmp = self._staged(target, data)
        try:
            os.replace(tmp, target)
            self._sync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def upload(self, key: str, local_file: Path, *, consume: bool = False) -> None:
        """Replace ``key`` with a finished local file; ``consume`` moves it (no copy) when it is a
        :meth:`staging_file` of this key, so a large partition is written once, fsynced and renamed."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if consume and Path(local_file).parent == target.parent:
            tmp = Path(local_file)
        else:
            tmp = _temp_beside(target)
            shutil.copyfile(local_file, tmp)
        try:
            if self.fsync:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
            self._sync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def staging_file(self, key: str) -> Path:
        """A hidden temp name next to ``key`` (same filesystem, so :meth:`upload` can rename it in)."""
        return _temp_beside(self.path(key))

    def create(self, key: str, data: bytes) -> bool:
        target = self.path(key)
        tmp = self._staged(target, data)
        try:
            os.link(tmp, target)
            self._sync_dir(target.parent)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix) if _clean(prefix) else Path(self.root)
        if not base.is_dir():
            return []
        root = Path(self.root)
        found = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not _hidden(d)]
            found += [(Path(dirpath) / f).relative_to(root).as_posix() for f in filenames if not _hidden(f)]
        return sorted(found)

    def children(self, prefix: str) -> list[str]:
        base = self.path(prefix) if _clean(prefix) else Path(self.root)
        if not base.is_dir():
            return []
        return sorted(c.name for c in base.iterdir() if c.is_dir() and not _hidden(c.name))

    def delete(self, key: str) -> None:
        target = self.path(key)
        if target.exists():
            target.unlink()
            self._sync_dir(target.parent)

    def delete_prefix(self, prefix: str) -> int:
        """Remove a whole folder: renamed to a hidden tomb first, so readers never see it half deleted."""
        target = self.path(prefix)
        if not target.is_dir():
            return 0
        count = sum(len(files) for _, _, files in os.walk(target))
        doomed = target.with_name(f".deleting-{target.name}-{uuid.uuid4().hex}")
        os.replace(target, doomed)
        shutil.rmtree(doomed)
        return count

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(Path(self.root).resolve())


_MULTIPART_THRESHOLD = 64 * 1024 * 1024


@dataclass
class S3Store:
    """A bucket (and key prefix) of any S3-compatible service: AWS S3, GCS's XML API, MinIO, Ceph RGW."""

    bucket: str
    prefix: str = ""
    client: object = field(default=None, repr=False)
    multipart_threshold: int = _MULTIPART_THRESHOLD  # larger objects go up as a multipart upload

    def __post_init__(self) -> None:
        self.prefix = _clean(self.prefix)
        if self.client is None:
            self.client = s3_client()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        key = _clean(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1:] if self.prefix else full

    def _call(self, what: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError:
            raise
        except BotoCoreError as exc:
            raise StorageError(f"cannot {what} on {self.url}: {exc} (check FLEET_STORAGE_URL and AWS_ENDPOINT_URL_S3)") from None

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self._call("read", self.client.get_object, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise _storage_error(exc, self) from None

    def download(self, key: str, local_file: Path) -> bool:
        """Stream ``key`` into ``local_file`` with ONE GET (bounded memory; never ranged GETs, which could
        mix two versions of a replaced object); ``False`` if it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self._call("read", self.client.get_object, Key=self._key(key))["Body"]
            with open(local_file, "wb") as fh:
                for chunk in body.iter_chunks(8 << 20):
                    fh.write(chunk)
            return True
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return False
            raise _storage_error(exc, self) from None
        except BotoCoreError as exc:  # the connection broke mid-body
            raise StorageError(f"cannot read {key} on {self.url}: {exc} (check FLEET_STORAGE_URL and AWS_ENDPOINT_URL_S3)") from None

    def write(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("write", self.client.put_object, Key=self._key(key), Body=data)
        except ClientError as exc:
            raise _storage_error(exc, self) from None

    def upload(self, key: str, local_file: Path, *, consume: bool = False) -> None:
        """One PUT, or above 64 MB a multipart upload that only becomes visible once completed.

        Never a streamed write: an interrupted stream can still complete a partial object.
        """
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import ClientError

        config = TransferConfig(multipart_threshold=self.multipart_threshold, multipart_chunksize=self.multipart_threshold)
        try:
            self.client.upload_file(str(local_file), self.bucket, self._key(key), Config=config)
        except ClientError as exc:
            raise _storage_error(exc, self) from None
        except Exception as exc:  # boto3's transfer wraps errors (S3UploadFailedError)
            raise StorageError(f"upload of {key} to {self.url} failed: {exc}") from None
        finally:
            if consume:
                Path(local_file).unlink(missing_ok=True)

    def staging_file(self, key: str) -> Path:
        """A local temp file to build an object in before :meth:`upload` (never written to S3 in pieces)."""
        fd, name = tempfile.mkstemp(prefix=".fleet-", suffix=".tmp")
        os.close(fd)
        return Path(name)

    def create(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        for _ in range(20):
            try:
                self._call("write", self.client.put_object, Key=self._key(key), Body=data, IfNoneMatch="*")
                return True
            except ClientError as exc:
                code = _code(exc)
                if code in ("PreconditionFailed", "412"):
                    return False
                if code in ("ConditionalRequestConflict", "409"):  # a racing create: ask again
                    continue
                raise _storage_error(exc, self) from None
        raise StorageError(f"create of {key} on {self.url} kept conflicting with concurrent writers")

    def _head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self._call("read", self.client.head_object, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise _storage_error(exc, self) from None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def _pages(self, prefix: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        full = self._key(prefix) if _clean(prefix) else self.prefix
        full = f"{full}/" if full else ""
        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full, **kwargs)
        except ClientError as exc:
            raise _storage_error(exc, self) from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot list {self.url}: {exc} (check FLEET_STORAGE_URL and AWS_ENDPOINT_URL_S3)") from None

    def list(self, prefix: str) -> list[str]:
        keys = [self._rel(obj["Key"]) for page in self._pages(prefix) for obj in page.get("Contents", [])]
        return sorted(k for k in keys if not any(_hidden(p) for p in k.split("/")))

    def children(self, prefix: str) -> list[str]:
        names = [
            cp["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            for page in self._pages(prefix, Delimiter="/")
            for cp in page.get("CommonPrefixes", [])
        ]
        return sorted(n for n in names if not _hidden(n))

    def delete(self, key: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("delete", self.client.delete_object, Key=self._key(key))
        except ClientError as exc:
            raise _storage_error(exc, self) from None

    def delete_prefix(self, prefix: str) -> int:
        keys = [self._key(k) for k in self.list(prefix)]
        from botocore.exceptions import ClientError

        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            try:
                self._call("delete", self.client.delete_objects,
                           Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            except ClientError as exc:
                raise _storage_error(exc, self) from None
        return len(keys)

    def arrow_filesystem(self) -> tuple[pafs.FileSystem, str]:
        meta = self.client.meta
        import boto3

        creds = boto3.session.Session().get_credentials()  # the same chain the client resolved
        frozen = creds.get_frozen_credentials() if creds is not None else None
        endpoint = urlparse(meta.endpoint_url)
        kwargs = dict(region=meta.region_name or "us-east-1")
        if frozen is not None:
            kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        if endpoint.hostname and not endpoint.hostname.endswith("amazonaws.com"):
            kwargs.update(endpoint_override=f"{endpoint.hostname}:{endpoint.port}" if endpoint.port else endpoint.hostname,
                          scheme=endpoint.scheme)
        base = f"{self.bucket}/{self.prefix}".rstrip("/")
        return pafs.S3FileSystem(**kwargs), base


@contextmanager
def staged_file(store: ObjectStore, key: str) -> Iterator[Path]:
    """A temp file to build ``key`` in; ``store.upload(key, path, consume=True)`` publishes it, else it is removed."""
    path = store.staging_file(key)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoreDir:
    """A key prefix in a store (a dataset root, the raw store): what storage functions take instead of a path.

    Callers keep their shape (``read_partition(layout.dataset("telemetry"), day)``) whatever the backend.
    """

    store: ObjectStore
    prefix: str = ""

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def child(self, *parts: str) -> StoreDir:
        return StoreDir(self.store, self.key(*parts))

    @property
    def name(self) -> str:
        return self.prefix.rsplit("/", 1)[-1]

    @property
    def local_path(self) -> Path | None:
        """The directory on disk for a local store, else ``None``."""
        return self.store.path(self.prefix) if isinstance(self.store, LocalStore) else None

    @property
    def url(self) -> str:
        return f"{self.store.url}/{self.prefix}".rstrip("/")

    def location(self, *parts: str) -> Path | str:
        """For UI metadata and messages: the local path, or the object URL on object storage."""
        local = self.local_path
        return local.joinpath(*parts) if local is not None else "/".join([self.url, *parts])

    def arrow_path(self, *parts: str) -> tuple[pafs.FileSystem, str]:
        """``(pyarrow filesystem, path)`` of a key below this prefix, for pyarrow datasets and DuckDB."""
        fs, base = self.store.arrow_filesystem()
        rel = self.key(*parts)
        return fs, f"{base}/{rel}" if rel else base


def as_dir(root: StoreDir | str | Path) -> StoreDir:
    """A ``StoreDir`` as is; a local directory path as the root of a local store (embedded tools and tests)."""
    if isinstance(root, StoreDir):
        return root
    return StoreDir(LocalStore(Path(root)))


def _code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")))


def _storage_error(exc, store: S3Store) -> StorageError:
    code = _code(exc)
    if code in ("NoSuchBucket",):
        return StorageError(f"bucket {store.bucket!r} does not exist (FLEET_STORAGE_URL={store.url})")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidClientTokenId",
                "ExpiredToken"):
        return StorageError(
            f"S3 refused the credentials for {store.url} ({code}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        )
    return StorageError(f"S3 error on {store.url}: {code}: {exc}")


def s3_client():
    """A boto3 S3 client from the standard AWS variables; path-style addressing for non-AWS endpoints."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    probe = session.client("s3", region_name=session.region_name or "us-east-1")
    custom = not (urlparse(probe.meta.endpoint_url).hostname or "").endswith("amazonaws.com")
    config = Config(
        s3={"addressing_style": "path"} if custom else {},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
    )
    return session.client("s3", region_name=session.region_name or "us-east-1", config=config)


def open_store(url: str, *, fsync: bool = True) -> ObjectStore:
    """The store named by a storage URL (``FLEET_STORAGE_URL``): ``file:///path``, a plain path, or ``s3://bucket/prefix``."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise StorageError(f"FLEET_STORAGE_URL {url!r} names no bucket (expected s3://bucket/prefix)")
        return S3Store(bucket=parsed.netloc, prefix=parsed.path)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path), fsync=fsync)
    if parsed.scheme == "":
        return LocalStore(Path(url).expanduser().resolve(), fsync=fsync)
    raise StorageError(f"FLEET_STORAGE_URL {url!r}: unsupported scheme {parsed.scheme!r} (use file:// or s3://)")


_CHECKED: set[str] = set()


def ensure_conditional_writes(store: ObjectStore) -> None:
    """:func:`check_conditional_writes` once per process and store URL (start-up of a run, the CLI).

    Local stores need no probe (``os.link`` is create-only by construction).
    """
    if isinstance(store, LocalStore):
        return
    client = getattr(store, "client", None)
    where = f"{store.url} via {client.meta.endpoint_url if client is not None else '?'}"  # same bucket, other endpoint
    if where in _CHECKED:
        return
    check_conditional_writes(store)
    _CHECKED.add(where)


def check_conditional_writes(store: ObjectStore) -> None:
    """Refuse a store that does not enforce create-only writes (it would silently lose landing-zone safety).

    Writes a probe object twice with ``create``; the second must be refused. Also proves the store is
    reachable, the bucket exists and the credentials may write.
    """
    key = f".probe/conditional-{uuid.uuid4().hex}"
    try:
        if not store.create(key, b"1"):
            raise StorageError(f"{store.url}: a fresh probe object already existed; cannot check conditional writes")
        if store.create(key, b"2"):
            raise StorageError(
                f"{store.url} does not enforce conditional writes (If-None-Match: *); refusing to run, "
                "since create-only landing-zone writes would be unsafe. Use a store that supports them "
                "(AWS S3, GCS, MinIO, Ceph RGW all do) (FLEET_STORAGE_URL)"
            )
    finally:
        try:
            store.delete(key)
        except StorageError:
            pass
