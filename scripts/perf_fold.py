#!/usr/bin/env python3
"""Folds `perf script -F comm,tid,ip,sym` output into "thread;root;...;leaf count" lines
for inferno-flamegraph (docs/benchmarks.md, round two). Usage: perf_fold.py conn.script > conn.folded"""
import sys, re, collections
# perf script -F comm,tid,ip,sym output -> folded stacks "comm;root;...;leaf count"
stacks=collections.Counter()
cur=None; frames=[]
def flush():
    global frames, cur
    if cur is not None:
        fr=[f for f in reversed(frames)]
        stacks[';'.join([cur]+fr)]+=1
    frames=[]; cur=None
for line in open(sys.argv[1]):
    line=line.rstrip('\n')
    if not line.strip():
        flush(); continue
    if not line.startswith((' ','\t')):
        flush()
        cur=line.split()[0]
        continue
    parts=line.strip().split(None,1)
    sym=parts[1] if len(parts)>1 else '[unknown]'
    sym=re.sub(r'\+0x[0-9a-f]+$','',sym)
    sym=re.sub(r'::h[0-9a-f]{16}$','',sym)
    frames.append(sym.replace(';',':'))
flush()
for k,v in stacks.items(): print(k,v)
