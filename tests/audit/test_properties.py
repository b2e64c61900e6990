"""Property tests where inputs vary: the arch rules and CUDA_VISIBLE_DEVICES parsing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui_trainer.audit import gpus, torch_build

RANK = {"none": 0, "ptx": 1, "sass": 2}
capabilities = st.tuples(st.integers(3, 12), st.integers(0, 9)).map(lambda c: f"{c[0]}.{c[1]}")
arches = st.builds(
    lambda kind, major, minor, suffix: f"{kind}_{major}{minor}{suffix}",
    st.sampled_from(["sm", "compute"]),
    st.integers(3, 12),
    st.integers(0, 9),
    st.sampled_from(["", "", "a", "f"]),
)


@given(capabilities, st.lists(arches, max_size=6), st.lists(arches, max_size=3))
def test_adding_architectures_never_removes_support(capability, arch_list, extra):
    before = torch_build.kernel_support(capability, arch_list)
    after = torch_build.kernel_support(capability, arch_list + extra)
    assert RANK[after] >= RANK[before]


@given(capabilities, st.lists(arches, max_size=6))
def test_compiled_support_needs_an_sm_target_of_the_same_major(capability, arch_list):
    if torch_build.kernel_support(capability, arch_list) == "sass":
        major = int(capability.split(".")[0])
        assert any(a.startswith("sm_") and torch_build.parse_arch(a)[1] == major for a in arch_list), (
            arch_list
        )


@given(
    st.integers(0, 4),
    st.lists(
        st.one_of(st.integers(-2, 6).map(str), st.sampled_from(["GPU-aa", "GPU-bb", "zz", ""])), max_size=5
    ),
)
def test_visible_devices_are_unique_valid_and_in_cuda_order(count, tokens):
    devices = [{"index": i, "uuid": f"GPU-{'abcdef'[i] * 2}{i}"} for i in range(count)]
    value = ",".join(tokens)
    visible, unmatched = gpus.parse_visible_devices(value, devices)
    assert len(set(visible)) == len(visible)
    assert all(0 <= v < count for v in visible)
    assert len(visible) <= len([t for t in tokens if t]) or value == ""
