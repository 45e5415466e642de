"""The directory catalog: backup files named by a rule, finished when last modified.

The naming rule (`[backups] names`: schedule kind -> regular expression) says
which files are backups of which kind; by default it is the demo backend's
(`demo.backups.BACKUP_PATTERNS`). A file's modification time is when its backup
finished, as the writer leaves it; the date a name may carry is the schedule
slot, not the finish. An empty file is listed as a backup that is not good.
Everything else in the directory (notes, a `.partial` being written) is counted
and left alone.

Blocking file-system calls: `read_catalog` runs this in a thread.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lessay_console.backups.catalog import Backup, SourceRead, failed, listed

SOURCE = "directory"


def read_directory(directory: Path, names: dict[str, str]) -> SourceRead:
    """Every backup in `directory` that a rule of `names` recognises."""
    where = f"directory {directory}"
    rules = [(kind, re.compile(pattern)) for kind, pattern in names.items()]
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return failed(where, names, f"backup directory {directory} does not exist")
    except NotADirectoryError:
        return failed(where, names, f"{directory} is not a directory")
    except PermissionError:
        return failed(where, names, f"no permission to list the backup directory {directory}")
    except OSError as error:
        return failed(where, names, f"cannot list {directory}: {error.strerror or error}")
    backups, problems, ignored = [], [], 0
    for entry in entries:
        kind = next((kind for kind, rule in rules if rule.search(entry.name)), None)
        if kind is None:
            ignored += 1
            continue
        try:
            stat = entry.stat()
            is_file = entry.is_file()
        except FileNotFoundError:
            if entry.is_symlink():
                problems.append(f"{entry.name}: a link to nothing")
            continue  # else removed (pruned) since the listing: no longer a backup
        except OSError as error:
            problems.append(f"{entry.name}: cannot read its status: {error.strerror or error}")
            continue
        empty = is_file and stat.st_size == 0
        backups.append(
            Backup(
                kind=kind,
                name=entry.name,
                finished_at=stat.st_mtime,
                size=stat.st_size if is_file else None,
                good=not empty,
                why_not="empty file (0 bytes)" if empty else "",
                source=SOURCE,
            )
        )
    return listed(where, names, backups, problems, ignored)
