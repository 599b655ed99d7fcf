"""The snapshot's static copy: ``export`` writes the whole public site as files for nginx, any static host or a
CDN, and ``deployment_store`` keeps a copy in ``STATUSHUB_EXPORT_DIR`` in step with every refresh."""

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from incidents.snapshot import Progress, all_incident_pks, build, fingerprint
from statushub.lib.snapshot_store import File, FileStore, Store, snapshot_store

log = logging.getLogger(__name__)


class MirroredStore:
    """The deployment's store plus a static copy kept in step (``STATUSHUB_EXPORT_DIR``). Reads use the first.

    The copy never holds the real site back: the deployment's store is written first, and a copy that cannot be
    written (disk full, permissions) is logged and exported whole again at the next refresh.
    """

    STALE = "snapshot-mirror-stale"

    def __init__(self, primary: Store, mirror: FileStore) -> None:
        self.primary = primary
        self.mirror = mirror

    def _mirrored(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError:
            log.exception(
                "The static copy in %s could not be updated; it will be exported again", self.mirror.root
            )
            cache.set(self.STALE, 1, timeout=None)

    def read(self, path: str) -> File | None:
        return self.primary.read(path)

    def write(self, files: dict[str, bytes], removed: Iterable[str] = ()) -> int:
        removed = list(removed)
        written = self.primary.write(files, removed)
        self._mirrored(lambda: self.mirror.write(files, removed))
        return written

    def paths(self) -> Iterator[str]:
        return self.primary.paths()

    def get_meta(self, key: str) -> object:
        return self.primary.get_meta(key)

    def set_meta(self, key: str, value: object) -> None:
        self.primary.set_meta(key, value)
        self._mirrored(lambda: self.mirror.set_meta(key, value))

    def clear(self) -> None:
        self.primary.clear()
        self.mirror.clear()


def deployment_store() -> Store:
    """The store public pages are served from, mirrored into ``STATUSHUB_EXPORT_DIR`` when that is set.

    The copy is exported whole when it does not exist yet, when it was rendered by another release or with
    other settings (its static files and photos would be out of date), or after it failed to update.
    """
    store = snapshot_store()
    if not settings.STATUSHUB_EXPORT_DIR:
        return store
    target = Path(settings.STATUSHUB_EXPORT_DIR)
    copy = FileStore(target)
    site = copy.get_meta("site") if _is_export(target) else None
    current = isinstance(site, dict) and site.get("fingerprint") == fingerprint()
    if not current or cache.get(MirroredStore.STALE):
        try:
            export(target)  # refuses a directory that is not an export
        except (ExportError, OSError):
            # The copy is extra: the public site itself must keep refreshing.
            log.exception("Could not export the static copy to %s; serving goes on without it", target)
            return store
        cache.delete(MirroredStore.STALE)
    return MirroredStore(store, copy)


def _is_export(target: Path) -> bool:
    """``target`` is a link into its own ``.<name>.versions`` folder, as ``export`` leaves it."""
    versions = (target.parent / f".{target.name}.versions").resolve()
    return target.is_symlink() and target.resolve().parent == versions


# --- Export: the same files, for nginx, any static host or a CDN ---------------------------------------------


class ExportError(Exception):
    pass


@dataclass
class Exported:
    target: Path
    version_dir: Path
    files: int
    incidents: int


def export(
    target: Path, *, progress: Callable[[int], Progress] | None = None, keep: int = 2, jobs: int = 1
) -> Exported:
    """Write the whole public site under ``target``, then switch to it at once.

    ``target`` becomes a symbolic link to a fresh directory beside it; replacing the link is atomic, so a web
    server reading ``target`` sees the old site or the new one, never half of each. The previous ``keep``
    versions stay (to roll back by hand), older ones are removed.
    """
    target = Path(os.path.abspath(target))
    refusal = f"{target} already exists and is not a StatusHub export. Give a new path, or remove it first."
    if target.is_symlink() and not _is_export(target):
        raise ExportError(refusal)
    if target.exists() and not target.is_symlink():
        if not target.is_dir() or any(target.iterdir()):
            raise ExportError(refusal)
        target.rmdir()
    versions = target.parent / f".{target.name}.versions"
    versions.mkdir(parents=True, exist_ok=True)
    with open(versions / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one export at a time into one place: none prunes another's work
        return _export(target, versions, progress=progress, keep=keep, jobs=jobs)


def _export(
    target: Path, versions: Path, *, progress: Callable[[int], Progress] | None, keep: int, jobs: int
) -> Exported:
    staging = Path(tempfile.mkdtemp(dir=versions, prefix=f"{timezone.now():%Y%m%dT%H%M%S.%f}-"))
    try:
        pks = all_incident_pks()
        store = FileStore(staging)
        build(
            store,
            progress=progress(len(pks)) if progress else None,
            pks=pks,
            consume_changes=False,
            jobs=jobs,
        )
        _copy_tree(Path(settings.STATIC_ROOT), staging / settings.STATIC_URL.strip("/"))
        _copy_tree(Path(settings.MEDIA_ROOT) / "people", staging / "media" / "people")
        staging.chmod(0o755)
        link = versions / f".link-{staging.name}"
        os.symlink(os.path.relpath(staging, target.parent), link)
        os.replace(link, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    exports = sorted(p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in exports[: -(keep + 1)]:
        if old != staging:
            shutil.rmtree(old, ignore_errors=True)
    count = sum(1 for _ in store.paths())
    return Exported(target=target, version_dir=staging, files=count, incidents=len(pks))


def _copy_tree(source: Path, destination: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True)
