#!/usr/bin/python3
"""Prints what a screen reader sees of one application, through AT-SPI (pyatspi).

Usage: atspi_tree.py APP-NAME [--focused] [--all]

One JSON object per line, in the tree's (reading) order, for every object of the
application that is showing (--all: also those scrolled out of view): role, name,
description, states, screen extents and depth. With --focused: only the object that has
the keyboard focus (none: no line).
Run with Debian's /usr/bin/python3 (python3-pyatspi), in the session whose accessibility
bus the application uses (DBUS_SESSION_BUS_ADDRESS, AT_SPI_BUS_ADDRESS).
"""
import json
import sys

import pyatspi

def states(acc):
    s = acc.getState()
    return sorted(pyatspi.stateToString(x) for x in s.getStates())

def extents(acc):
    try:
        e = acc.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        return [e.x, e.y, e.width, e.height]
    except NotImplementedError:
        return None

def walk(acc, depth, out, focused_only, everything=False):
    if acc is None or depth > 60:
        return
    try:
        st = states(acc)
    except Exception:
        return
    if "showing" in st or depth < 3 or (everything and "visible" in st):
        node = {
            "role": acc.getRoleName(),
            "name": acc.name or "",
            "description": acc.description or "",
            "states": st,
            "extents": extents(acc),
            "depth": depth,
        }
        if not focused_only or "focused" in st:
            out.append(node)
    for i in range(acc.childCount):
        try:
            child = acc.getChildAtIndex(i)
        except Exception:
            continue
        walk(child, depth + 1, out, focused_only, everything)

def main():
    name = sys.argv[1]
    focused_only = "--focused" in sys.argv
    everything = "--all" in sys.argv
    desktop = pyatspi.Registry.getDesktop(0)
    apps = [desktop.getChildAtIndex(i) for i in range(desktop.childCount)]
    apps = [a for a in apps if a is not None and (a.name or "") == name]
    if not apps:
        seen = [(desktop.getChildAtIndex(i).name or "?") for i in range(desktop.childCount)]
        print(json.dumps({"error": "no application " + name, "apps": seen}))
        sys.exit(2)
    out = []
    for a in apps:
        walk(a, 0, out, focused_only, everything)
    for n in out:
        print(json.dumps(n))

main()
