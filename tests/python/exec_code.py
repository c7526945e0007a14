"""Code objects that are freed and replaced by new ones, often at the same address: each exec'd
snippet below is compiled under this file's name with its leak on one of the marked lines
(never run directly: they sit in a dead branch), runs once, and is dropped. Every leak must
keep its own line."""
import gc

keep = []
if False:
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>
    keep.append(open("/etc/hostname"))  # LEAK fn=<module>

with open(__file__) as f:
    lines = f.read().splitlines()
for number, line in enumerate(lines, 1):
    if line.startswith("    keep.") and line.endswith("LEAK fn=<module>"):
        source = "\n" * (number - 1) + line.strip()
        exec(compile(source, __file__, "exec"), {"keep": keep})
        gc.collect()
