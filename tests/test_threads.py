import threading

import torch

from workbench import threads


def test_share_splits_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    assert [threads.share(users) for users in (1, 2, 3)] == [2, 1, 1]
    monkeypatch.setattr(threads, "cores", lambda: 8)
    assert [threads.share(users) for users in (1, 2, 3)] == [8, 4, 2]


def test_cgroup_quota_caps_the_cores(monkeypatch, tmp_path):
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_QUOTA", quota)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _: set(range(16)))
    quota.write_text("200000 100000\n")
    assert threads.cores() == 2
    quota.write_text("max 100000\n")
    assert threads.cores() == 16
    quota.unlink()
    assert threads.cores() == 16


def test_each_thread_sets_its_own_count(monkeypatch):
    """torch's intra-op count is per thread: a model thread's share leaves the caller's count alone."""
    monkeypatch.setattr(threads, "cores", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    worker = threading.Thread(target=lambda: seen.append((threads.use_share(2), torch.get_num_threads())))
    worker.start()
    worker.join()
    try:
        assert seen == [(1, 1)] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
