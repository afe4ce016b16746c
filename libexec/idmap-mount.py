#!/usr/bin/python3
"""Opens host paths for aiboxd without following symbolic links, and mounts them from the opened fd.

aiboxd runs as root and mounts folders a user (and the agent inside the sandbox) can change. Every path is opened
with openat2(RESOLVE_NO_SYMLINKS) (an O_PATH|O_NOFOLLOW walk where openat2 is missing): a symbolic link at any
component is refused, never followed. Checks (identity, forbidden prefixes, owner) are made on the opened fd, and the
mount is made from that same fd (open_tree(fd, "", AT_EMPTY_PATH)), so nothing can be swapped in between.

  idmap-mount.py probe PATH [--as UID:GID]
      prints {"dev","ino","uid","gid","mode","real"} of PATH as JSON; with --as, also checks that UID can itself reach
      PATH (every component traversed as UID) and read, write and enter it (exit 13 otherwise).
  idmap-mount.py mount SOURCE TARGET [--expect DEV:INO] [--forbid PREFIX]... [--ro] [--refuse-root-owner]
                       [--shift SANDBOX_UID:SANDBOX_GID:CONTAINER_ROOT] [--make-target]
      clones SOURCE onto TARGET, always nosuid,nodev (read-only with --ro). With --shift the mount is idmapped: the
      owner of SOURCE appears as SANDBOX_UID/GID and the transient id 65533 as CONTAINER_ROOT. With --make-target,
      TARGET is created as a folder or an empty file, as the opened SOURCE is.
  idmap-mount.py batch
      reads a JSON list of {"source","target","readOnly","forbid"} on stdin and mounts each as `mount --make-target`
      would (one process for all of a sandbox's extra mounts); stops at the first refusal.

Exit codes name the refusal: 2 usage, 3 not found, 4 symbolic link, 5 identity changed, 6 forbidden place,
7 owned by root, 13 no access, 1 anything else. The message is on stderr.
"""
import ctypes
import json
import os
import pwd
import stat
import subprocess
import sys
import time

SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_OPENAT2, SYS_MOUNT_SETATTR = 428, 429, 437, 442
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
AT_FDCWD, AT_EMPTY_PATH = -100, 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 4
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
MOUNT_ATTR_IDMAP = 0x00100000
RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x02, 0x04
O_PATH = 0o10000000
TRANSIENT_DISK_ID = 65533

EXIT = {"usage": 2, "missing": 3, "symlink": 4, "changed": 5, "forbidden": 6, "root-owned": 7, "access": 13}

libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise Refused("error", f"{what}: {os.strerror(err)}")
    return result


def open_nofollow(path):
    """An O_PATH fd of PATH; refuses a symbolic link at any component (the last one included)."""
    if not path.startswith("/") or "\0" in path:
        raise Refused("usage", f"not an absolute path: {path}")
    if any(part == ".." for part in path.split("/")):
        raise Refused("symlink", f"{path} contains '..'")
    how = OpenHow(O_PATH | os.O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    fd = libc.syscall(SYS_OPENAT2, AT_FDCWD, path.encode(), ctypes.byref(how), ctypes.sizeof(how))
    if fd >= 0:
        return fd
    err = ctypes.get_errno()
    if err == 38:  # ENOSYS: no openat2, walk component by component
        return walk_nofollow(path)
    raise_open_error(path, err)


def walk_nofollow(path):
    fd = os.open("/", O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        for part in [p for p in path.split("/") if p and p != "."]:
            try:
                nxt = os.open(part, O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                raise_open_error(path, e.errno)
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise Refused("symlink", f"{path}: a component is a symbolic link")
        return fd
    except BaseException:
        os.close(fd)
        raise


def raise_open_error(path, err):
    if err == 40:  # ELOOP: RESOLVE_NO_SYMLINKS met a link
        raise Refused("symlink", f"{path}: a component is a symbolic link")
    if err == 2 or err == 20:
        raise Refused("missing", f"{path}: no such file or directory")
    if err == 13:
        raise Refused("access", f"{path}: permission denied")
    raise Refused("error", f"{path}: {os.strerror(err)}")


def real_path(fd):
    return os.readlink(f"/proc/self/fd/{fd}")


def describe(fd):
    st = os.fstat(fd)
    if stat.S_ISLNK(st.st_mode):
        raise Refused("symlink", f"{real_path(fd)} is a symbolic link")
    return {"dev": st.st_dev, "ino": st.st_ino, "uid": st.st_uid, "gid": st.st_gid, "mode": st.st_mode,
            "real": real_path(fd)}


def check_as(path, fd, uid, gid):
    """In a child with the caller's ids: reach PATH (no links), same inode, and read+write+enter it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            try:
                name = pwd.getpwuid(uid).pw_name
                groups = os.getgrouplist(name, gid)
            except KeyError:
                groups = [gid]
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            try:
                mine = open_nofollow(path)
            except Refused:
                os._exit(EXIT["access"])
            a, b = os.fstat(mine), os.fstat(fd)
            if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
                os._exit(EXIT["changed"])
            ok = os.access(".", os.R_OK | os.W_OK | os.X_OK, dir_fd=mine)
            code = 0 if ok else EXIT["access"]
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == EXIT["access"]:
        raise Refused("access", f"uid {uid} cannot itself read, write and enter {path}")
    if code != 0:
        raise Refused("changed" if code == EXIT["changed"] else "error", f"access check of {path} as uid {uid} failed")


def forbidden(real, prefixes):
    for p in prefixes:
        if p == "/" and real == "/":
            return True
        if p != "/" and (real == p or real.startswith(p.rstrip("/") + "/")):
            return True
    return False


def idmap_holder(maps):
    """A user namespace holding the mapping; the idmapped mount keeps a reference, so the process can go."""
    holder = subprocess.Popen(["unshare", "--user", "sleep", "60"])
    own = os.readlink("/proc/self/ns/user")
    for _ in range(500):  # wait until unshare(2) has happened in the child
        if os.readlink(f"/proc/{holder.pid}/ns/user") != own:
            break
        time.sleep(0.002)
    else:
        holder.kill()
        raise Refused("error", "the helper user namespace was not created")
    uid_lines = [f"{d} {v} 1" for kind, d, v in maps if kind == "u"]
    gid_lines = [f"{d} {v} 1" for kind, d, v in maps if kind == "g"]
    with open(f"/proc/{holder.pid}/uid_map", "w") as f:
        f.write("\n".join(uid_lines) + "\n")
    with open(f"/proc/{holder.pid}/gid_map", "w") as f:
        f.write("\n".join(gid_lines) + "\n")
    return holder


def mount(source, target, opts):
    fd = open_nofollow(source)
    info = describe(fd)
    if opts["expect"] and f"{info['dev']}:{info['ino']}" != opts["expect"]:
        raise Refused("changed", f"{source} is not the folder it was when the sandbox was created")
    if forbidden(info["real"], opts["forbid"]):
        raise Refused("forbidden", f"refusing to mount {info['real']} into a sandbox")
    if opts["refuse_root"] and info["uid"] == 0:
        raise Refused("root-owned", f"{info['real']} is owned by root")
    if opts["make_target"]:  # a folder or an empty file, as the opened source is
        if stat.S_ISDIR(info["mode"]):
            os.makedirs(target, exist_ok=True)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644))
    holder = None
    try:
        attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (MOUNT_ATTR_RDONLY if opts["ro"] else 0)
        nsfd = 0
        if opts["shift"]:
            su, sg, root = opts["shift"]
            holder = idmap_holder([("u", info["uid"], su), ("u", TRANSIENT_DISK_ID, root),
                                   ("g", info["gid"], sg), ("g", TRANSIENT_DISK_ID, root)])
            nsfd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY)
            attr_set |= MOUNT_ATTR_IDMAP
        tree = check(libc.syscall(SYS_OPEN_TREE, fd, b"", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
                     "open_tree")
        attr = MountAttr(attr_set, 0, 0, nsfd)
        check(libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)),
              "mount_setattr")
        check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
              "move_mount")
    finally:
        if holder:
            holder.kill()
            holder.wait()
    return info


def batch():
    done = []
    for item in json.load(sys.stdin):
        opts = {"expect": None, "forbid": list(item.get("forbid", [])), "ro": bool(item.get("readOnly")),
                "refuse_root": False, "shift": None, "make_target": True}
        done.append(mount(item["source"], item["target"], opts))
    print(json.dumps(done))


def parse(argv):
    if argv == ["batch"]:
        return "batch", [], {}
    if len(argv) < 2 or argv[0] not in ("probe", "mount"):
        raise Refused("usage", __doc__)
    cmd, rest = argv[0], argv[1:]
    positional, opts = [], {"expect": None, "forbid": [], "ro": False, "refuse_root": False, "shift": None,
                            "as": None, "make_target": False}
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--expect", "--forbid", "--shift", "--as"):
            if i + 1 >= len(rest):
                raise Refused("usage", f"{a} needs a value")
            v = rest[i + 1]
            if a == "--forbid":
                opts["forbid"].append(v)
            elif a == "--shift" or a == "--as":
                opts[a[2:]] = [int(x) for x in v.split(":")]
            else:
                opts["expect"] = v
            i += 2
            continue
        if a == "--ro":
            opts["ro"] = True
        elif a == "--refuse-root-owner":
            opts["refuse_root"] = True
        elif a == "--make-target":
            opts["make_target"] = True
        else:
            positional.append(a)
        i += 1
    return cmd, positional, opts


def main():
    try:
        cmd, args, opts = parse(sys.argv[1:])
        if cmd == "batch":
            batch()
        elif cmd == "probe":
            fd = open_nofollow(args[0])
            info = describe(fd)
            if opts["as"]:
                check_as(args[0], fd, opts["as"][0], opts["as"][1])
            print(json.dumps(info))
        else:
            if len(args) != 2:
                raise Refused("usage", "mount SOURCE TARGET")
            print(json.dumps(mount(args[0], args[1], opts)))
    except Refused as r:
        print(f"idmap-mount: {r}", file=sys.stderr)
        sys.exit(EXIT.get(r.kind, 1))


if __name__ == "__main__":
    main()
