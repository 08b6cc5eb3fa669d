"""The disk cache's trust model (DESIGN §8): who may have written its files.

Whoever can write the cache directory can make nbad run code as you (Numba's
machine code is loaded from it). So, as ssh does with ~/.ssh and pip with its
cache, nbad uses a cache directory only when it and the directories nbad uses
below it (kernels/, kernels/__pycache__/, programs/) are owned by the current
user and writable by nobody else, and no directory above it belongs to another
user (root aside) or is writable by everyone without the sticky bit /tmp has:
they could replace the cache. (A group-writable parent, common for shared
project folders, is accepted: the cache itself is checked at the start of
every process.) nbad creates its directories 0700 and its files 0600,
and tightens the mode of a directory or file it owns that is group- or
world-writable (left so by an old version or a umask of 000). A directory it
cannot trust (another user's, a shared 0777 one) turns the cache off for the
process with one NbadCacheWarning: the program still runs, compiling in memory.

Files are read through `read_own_file`: a regular file (no symlink) owned by
the user, else `UntrustedFile`. `secret` is the key nbad signs the files it
will unpickle with (numba_cache.py); it lives in the cache directory, 0600.

On Windows, where POSIX owners and modes do not apply, only the file checks
that do (regular file, no symlink) are made.
"""
from __future__ import annotations

import os
import secrets
import stat
import tempfile

SECRET_NAME = "cache.key"
_SECRET_BYTES = 32
_POSIX = hasattr(os, "geteuid")


class UntrustedFile(Exception):
    """A file or directory in the cache that nbad did not (or cannot tell it did) write."""


def _uid():
    return os.geteuid()


def _check_own_dir(path, st) -> str | None:
    """Why the directory `path` (lstat `st`) cannot be trusted, after fixing
    what can be fixed; None if it can."""
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if not _POSIX:
        return None
    if st.st_uid != _uid():
        return f"{path} is owned by uid {st.st_uid}, not by you (uid {_uid()})"
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as e:
            return f"{path} is writable by others and its mode cannot be fixed ({e})"
    return None


def _check_ancestor(path) -> str | None:
    if not _POSIX:
        return None
    try:
        st = os.stat(path)
    except OSError as e:
        return f"{path} cannot be examined ({e})"
    if st.st_uid not in (0, _uid()):
        return f"{path} (above the cache) is owned by uid {st.st_uid}, who could replace the cache"
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        return f"{path} (above the cache) is writable by everyone without the sticky bit"
    return None


def private_dir(path, create=True) -> None:
    """Make `path` (its parent exists) a directory of the user's, mode 0700;
    raise UntrustedFile if it exists and cannot be trusted."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return
        try:
            os.mkdir(path, 0o700)
            os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
            return
        except FileExistsError:
            st = os.lstat(path)
    reason = _check_own_dir(path, st)
    if reason is not None:
        raise UntrustedFile(reason)


def makedirs_private(path) -> None:
    """Create `path` and its missing parents 0700 (existing parents are left as they are)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        makedirs_private(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


def check_root(root, subdirs, create=True) -> str | None:
    """Create (0700) or check the cache directory `root` and its `subdirs`
    (relative paths, parents first); why they cannot be trusted, or None.
    With create=False, only what exists is checked (and modes fixed)."""
    try:
        if create:
            makedirs_private(root)
        elif not os.path.lexists(root):
            return None
        real = os.path.realpath(root)
        parent = os.path.dirname(real)
        while True:
            reason = _check_ancestor(parent)
            if reason is not None:
                return reason
            up = os.path.dirname(parent)
            if up == parent:
                break
            parent = up
        reason = _check_own_dir(real, os.lstat(real))
        if reason is not None:
            return reason
        for sub in subdirs:
            private_dir(os.path.join(real, sub), create)
    except UntrustedFile as e:
        return str(e)
    except OSError as e:
        return f"{root} cannot be used ({type(e).__name__}: {e})"
    return None


def read_own_file(path) -> bytes | None:
    """The bytes of the regular file `path` if the user owns it (its mode
    tightened to 0600 if looser); None if there is no such file; UntrustedFile
    for a symlink, a directory, a FIFO or device, or another user's file."""
    # O_NONBLOCK: opening a FIFO planted in the cache must not hang the process
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_BINARY", 0))
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:  # ELOOP: a symlink
        raise UntrustedFile(f"{path} cannot be opened as a plain file ({e})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedFile(f"{path} is not a regular file")
        if _POSIX:
            if st.st_uid != _uid():
                raise UntrustedFile(f"{path} is owned by uid {st.st_uid}, not by you")
            if stat.S_IMODE(st.st_mode) & 0o077:
                os.fchmod(fd, 0o600)
        return f.read()


def atomic_write(path, data: bytes) -> None:
    """Write `path` (mode 0600) through a temp file and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def remove_own_file(path) -> int:
    """Delete `path` if it is a regular file of the user's (never a directory, a
    symlink's target or another user's file); the bytes freed."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or (_POSIX and st.st_uid != _uid()):
            return 0
        os.unlink(path)
        return st.st_size
    except OSError:
        return 0


def secret(root) -> bytes:
    """The cache's signing key (created on first use, 0600)."""
    path = os.path.join(root, SECRET_NAME)
    key = read_own_file(path)
    if key is not None and len(key) == _SECRET_BYTES:
        return key
    fresh = secrets.token_bytes(_SECRET_BYTES)
    fd, tmp = tempfile.mkstemp(prefix=SECRET_NAME + ".", suffix=".tmp", dir=root)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(fresh)
        if key is None:
            try:
                os.link(tmp, path)  # never over a key another process just made
                return fresh
            except FileExistsError:
                key = read_own_file(path)
                if key is not None and len(key) == _SECRET_BYTES:
                    return key
            except OSError:  # a file system without hard links
                pass
        os.replace(tmp, path)  # a broken key: everything it signed is recompiled
        tmp = None
        return fresh
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
