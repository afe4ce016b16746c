#!/usr/bin/python3
"""Creates an idmapped bind mount (Linux >= 5.12): SOURCE appears at TARGET with its owner's ids shifted.

aiboxd uses it so that a project folder owned by any host user appears, inside a rootless gVisor sandbox, as owned
by the sandbox user, while every file the sandbox writes lands on the host owned by the project's owner.
Each MAP is DISK_ID:VISIBLE_ID (applied to uids and gids alike, gids given with g: prefix).
Usage: idmap-mount.py SOURCE TARGET u:DISK:VISIBLE ... g:DISK:VISIBLE ...
"""
import ctypes
import os
import subprocess
import sys
import time

SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
AT_FDCWD, AT_EMPTY_PATH = -100, 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 4
MOUNT_ATTR_IDMAP = 0x00100000


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        sys.exit(f"idmap-mount: {what}: {os.strerror(err)}")
    return result


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    source, target, maps = sys.argv[1], sys.argv[2], sys.argv[3:]
    uid_lines = [f"{m.split(':')[1]} {m.split(':')[2]} 1" for m in maps if m.startswith("u:")]
    gid_lines = [f"{m.split(':')[1]} {m.split(':')[2]} 1" for m in maps if m.startswith("g:")]
    libc = ctypes.CDLL(None, use_errno=True)
    # A user namespace holding the mapping; the idmapped mount keeps a reference, so the process can go.
    holder = subprocess.Popen(["unshare", "--user", "sleep", "60"])
    try:
        own = os.readlink("/proc/self/ns/user")
        for _ in range(500):  # wait until unshare(2) has happened in the child
            if os.readlink(f"/proc/{holder.pid}/ns/user") != own:
                break
            time.sleep(0.002)
        else:
            sys.exit("idmap-mount: the helper user namespace was not created")
        with open(f"/proc/{holder.pid}/uid_map", "w") as f:
            f.write("\n".join(uid_lines) + "\n")
        with open(f"/proc/{holder.pid}/gid_map", "w") as f:
            f.write("\n".join(gid_lines) + "\n")
        nsfd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY)
        tree = check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, source.encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
                     "open_tree")
        attr = MountAttr(MOUNT_ATTR_IDMAP, 0, 0, nsfd)
        check(libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)),
              "mount_setattr")
        check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
              "move_mount")
    finally:
        holder.kill()
        holder.wait()


if __name__ == "__main__":
    main()
