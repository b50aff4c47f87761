"""Is a RAM tier of KV snapshots worth it? One state restored from an in-process buffer, the page cache and the disk.

    python bench/bench_restore.py MODEL.gguf N_CTX N_TOKENS

Prints each restore time (median) next to the cold prefill of the same tokens.
"""
import ctypes
import os
import statistics
import sys
import time

import llama_cpp

path, n_ctx, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llm = llama_cpp.Llama(path, n_ctx=n_ctx, n_threads=2, verbose=False)
toks = (llm.tokenize(b"As a user, I want to see every story I wrote, so that I can plan. ") * 2000)[:n]
t = time.perf_counter()
llm.eval(toks)
prefill = time.perf_counter() - t
ctx = llm._ctx.ctx
size = llama_cpp.llama_state_get_size(ctx)
f = os.path.join(os.path.dirname(os.path.abspath(path)), "bench-restore.kv")
arr = (llama_cpp.llama_token * n)(*toks)
t = time.perf_counter()
assert llama_cpp.llama_state_save_file(ctx, f.encode(), arr, n)
save = time.perf_counter() - t


def load():
    out = (llama_cpp.llama_token * n_ctx)()
    cnt = ctypes.c_size_t()
    t = time.perf_counter()
    ok = llama_cpp.llama_state_load_file(ctx, f.encode(), out, n_ctx, ctypes.byref(cnt))
    dt = time.perf_counter() - t
    assert ok and cnt.value == n
    return dt


def drop():
    fd = os.open(f, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


cached = [load() for _ in range(5)]
disk = []
for _ in range(3):
    drop()
    disk.append(load())
buf = (ctypes.c_uint8 * size)()
w = llama_cpp.llama_state_get_data(ctx, buf, size)
ram = []
for _ in range(5):
    t = time.perf_counter()
    assert llama_cpp.llama_state_set_data(ctx, buf, w) == w
    ram.append(time.perf_counter() - t)
med = statistics.median
print(f"model {os.path.basename(path)}, {n} tokens, state {size/2**20:.1f} MiB")
print(f"cold prefill {prefill:.3f} s ({n/prefill:.0f} tok/s); save_file {save:.3f} s")
print(f"restore from an in-process buffer (llama_state_set_data): median {med(ram):.3f} s ({size/med(ram)/2**30:.2f} GiB/s) {['%.3f'%x for x in ram]}")
print(f"restore from the page cache (llama_state_load_file):      median {med(cached):.3f} s ({size/med(cached)/2**30:.2f} GiB/s) {['%.3f'%x for x in cached]}")
print(f"restore from disk (file dropped from the page cache):      median {med(disk):.3f} s ({size/med(disk)/2**30:.2f} GiB/s) {['%.3f'%x for x in disk]}")
print(f"ratios to the cold prefill: buffer {med(ram)/prefill:.4f}, page cache {med(cached)/prefill:.4f}, disk {med(disk)/prefill:.4f}")
os.unlink(f)
