#!/usr/bin/python3
"""Compiles an OCI seccomp profile (the JSON in profiles/seccomp/) to classic BPF with libseccomp.

aibox-exec loads the result inside the sandbox for every executed command (see aibox-exec.c for why).
Supports what aibox's profiles use: defaultAction ALLOW/ERRNO, rules with ERRNO/ALLOW/KILL actions and argument
comparisons. Anything else is refused, so a profile never silently loses a rule.
Usage: seccomp-bpf.py PROFILE.json OUT.bpf
"""
import json
import sys

import seccomp

OPS = {
    "SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_LT": seccomp.LT, "SCMP_CMP_LE": seccomp.LE, "SCMP_CMP_EQ": seccomp.EQ,
    "SCMP_CMP_GE": seccomp.GE, "SCMP_CMP_GT": seccomp.GT, "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}


def action(name, errno_ret):
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno_ret if errno_ret is not None else 1)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return seccomp.KILL
    if name == "SCMP_ACT_KILL_PROCESS":
        return seccomp.KILL_PROCESS
    raise SystemExit(f"seccomp-bpf: unsupported action {name}")


def main():
    profile = json.load(open(sys.argv[1]))
    flt = seccomp.SyscallFilter(defaction=action(profile["defaultAction"], profile.get("defaultErrnoRet")))
    for rule in profile.get("syscalls", []):
        act = action(rule["action"], rule.get("errnoRet"))
        args = [seccomp.Arg(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0)) if a["op"] == "SCMP_CMP_MASKED_EQ"
                else seccomp.Arg(a["index"], OPS[a["op"]], a["value"]) for a in rule.get("args", [])]
        for name in rule["names"]:
            try:
                flt.add_rule(act, name, *args)
            except RuntimeError as err:
                raise SystemExit(f"seccomp-bpf: cannot add rule for {name}: {err}")
    with open(sys.argv[2], "wb") as out:
        flt.export_bpf(out)


if __name__ == "__main__":
    main()
