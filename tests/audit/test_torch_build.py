"""PyTorch probe: build ↔ driver ↔ GPU mismatch rules with fake facts, and the real child process."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from tests.fakes import NO_NVML, fake_cpu_torch, fake_gpu_device, fake_gpu_facts, fake_torch
from tui_trainer.audit import torch_build
from tui_trainer.findings import Severity


def ids(findings):
    return [f.id for f in findings]


def only(findings, finding_id):
    matches = [f for f in findings if f.id == finding_id]
    assert len(matches) == 1, ids(findings)
    return matches[0]


def test_torch_missing_is_an_error_and_suggests_the_cuda_wheel_for_the_driver():
    finding = only(torch_build.assess({"installed": False}, fake_gpu_facts()), "torch.missing")
    assert finding.severity is Severity.ERROR
    assert finding.fix == "pip install torch --index-url https://download.pytorch.org/whl/cu124"
    assert only(torch_build.assess({"installed": False}, NO_NVML), "torch.missing").fix == "pip install torch"


def test_cpu_build_with_nvidia_gpu_is_an_error_with_a_cuda_reinstall():
    finding = only(
        torch_build.assess(fake_cpu_torch(), fake_gpu_facts(driver="570.86.10", cuda_driver="12.8")),
        "torch.cpu_build_with_gpu",
    )
    assert finding.severity is Severity.ERROR
    assert (
        finding.fix
        == "pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu128"
    )


def test_cpu_build_without_gpu_is_fine():
    findings = torch_build.assess(fake_cpu_torch(), NO_NVML)
    assert ids(findings) == ["torch.build"]


def test_rocm_build_with_nvidia_gpu_is_an_error():
    torch = fake_torch(build="rocm", cuda=None, hip="6.2", arch_list=["gfx90a"], cuda_available=False)
    assert (
        only(torch_build.assess(torch, fake_gpu_facts()), "torch.rocm_build_with_nvidia").severity
        is Severity.ERROR
    )


def test_driver_too_old_for_torch_cuda_major_is_an_error():
    torch = fake_torch(version="2.5.1+cu124", cuda="12.4", cuda_available=False)
    gpus = fake_gpu_facts(driver="470.82.01", cuda_driver="11.4")
    findings = torch_build.assess(torch, gpus)
    finding = only(findings, "torch.driver_too_old")
    assert finding.severity is Severity.ERROR and "525.60.13" in finding.detail
    assert finding.fix.endswith("/whl/cu118")  # the newest wheel this driver can run
    assert "torch.cuda_unavailable" not in ids(findings)  # the driver finding already says why


def test_driver_below_toolkit_minimum_but_same_major_is_a_minor_compat_warning():
    torch = fake_torch(version="2.7.0+cu128", cuda="12.8")
    finding = only(
        torch_build.assess(torch, fake_gpu_facts(driver="550.54.14", cuda_driver="12.4")),
        "torch.driver_minor_compat",
    )
    assert finding.severity is Severity.WARNING
    assert finding.fix.endswith("/whl/cu124")


def test_driver_table_alone_when_nvml_gives_no_cuda_version():
    torch = fake_torch(cuda="12.4")
    assert "torch.driver_too_old" in ids(
        torch_build.assess(torch, fake_gpu_facts(driver="450.80.02", cuda_driver=None))
    )
    assert not {"torch.driver_too_old", "torch.driver_minor_compat"} & set(
        ids(torch_build.assess(torch, fake_gpu_facts(driver="560.35.03", cuda_driver=None)))
    )


@pytest.mark.parametrize(
    ("capability", "arch_list", "expected"),
    [
        ("8.6", ["sm_80", "sm_90"], "sass"),  # same major, newer minor: binary compatible
        ("8.0", ["sm_86"], "none"),  # older minor cannot run newer SASS
        ("9.0", ["sm_80", "sm_86"], "none"),  # no SASS of another major, no PTX
        ("9.0", ["sm_80", "compute_80"], "ptx"),  # PTX JIT-compiles forward
        ("7.5", ["sm_80", "compute_80"], "none"),  # PTX never runs backward
        ("12.0", ["sm_90", "compute_90"], "ptx"),
        ("9.0", ["sm_90a"], "sass"),
        ("10.0", ["sm_90a", "compute_90a"], "none"),  # arch-specific targets do not carry forward
        ("10.3", ["sm_100f"], "sass"),  # family targets run on the same major
        ("12.0", ["sm_50", "sm_120"], "sass"),
        ("6.1", [], "none"),
    ],
)
def test_kernel_support_follows_cuda_compatibility_rules(capability, arch_list, expected):
    assert torch_build.kernel_support(capability, arch_list) == expected


def test_gpu_newer_than_arch_list_is_the_no_kernel_image_error():
    gpus = fake_gpu_facts(
        [
            fake_gpu_device(
                name="NVIDIA GeForce RTX 5090", capability="12.0", driver="570.86.10", cuda_driver="12.8"
            )
        ],
        driver="570.86.10",
        cuda_driver="12.8",
    )
    torch = fake_torch(arch_list=["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"])
    finding = only(torch_build.assess(torch, gpus), "torch.arch_unsupported")
    assert finding.severity is Severity.ERROR
    assert "sm_120" in finding.title and "no kernel image is available" in finding.detail
    assert finding.fix.endswith("/whl/cu128")


def test_gpu_older_than_arch_list_suggests_an_older_torch():
    gpus = fake_gpu_facts([fake_gpu_device(name="Tesla K80", capability="3.7")])
    finding = only(torch_build.assess(fake_torch(), gpus), "torch.arch_unsupported")
    assert "older" in finding.detail and finding.fix.startswith("pip install 'torch<")


def test_arch_mismatch_is_found_from_torch_devices_when_nvml_is_missing():
    torch = fake_torch(devices=[{"index": 0, "name": "NVIDIA GeForce RTX 5090", "capability": "12.0"}])
    assert "torch.arch_unsupported" in ids(torch_build.assess(torch, NO_NVML))


def test_ptx_only_is_a_warning_and_hidden_gpus_are_not_judged():
    gpus = fake_gpu_facts(
        [fake_gpu_device(capability="9.0"), fake_gpu_device(1, capability="3.7", visible=False)]
    )
    torch = fake_torch(arch_list=["sm_80", "compute_80"])
    findings = torch_build.assess(torch, gpus)
    assert only(findings, "torch.arch_ptx_only").severity is Severity.WARNING
    assert "torch.arch_unsupported" not in ids(findings)


def test_cuda_unavailable_despite_gpu_is_an_error():
    torch = fake_torch(cuda_available=False, device_count=0, cuda_error="RuntimeError: CUDA unknown error")
    finding = only(torch_build.assess(torch, fake_gpu_facts()), "torch.cuda_unavailable")
    assert "CUDA unknown error" in finding.detail


def test_no_bf16_is_info():
    assert (
        only(torch_build.assess(fake_torch(bf16_supported=False), fake_gpu_facts()), "torch.no_bf16").severity
        is Severity.INFO
    )


def test_import_failure_and_probe_timeout_are_errors():
    broken = fake_torch(
        version=None, import_error="ImportError: libcudnn.so.9: cannot open shared object file"
    )
    assert only(torch_build.assess(broken, NO_NVML), "torch.import_failed").severity is Severity.ERROR
    hung = fake_torch(version=None, probe_error="timed out after 15 s")
    assert "timed out" in only(torch_build.assess(hung, NO_NVML), "torch.probe_failed").detail


def test_smoke_failure_is_explained_plainly():
    torch = fake_torch(
        smoke=[
            {"device": "cpu", "ok": True, "error": None},
            {
                "device": "cuda:0",
                "ok": False,
                "error": "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            },
        ]
    )
    findings = torch_build.assess(torch, fake_gpu_facts())
    failed = only(findings, "torch.smoke_failed")
    assert failed.evidence["device"] == "cuda:0"
    assert (
        "no compiled kernels for this GPU's architecture" in failed.detail.lower()
        or "has no compiled kernels" in failed.detail
    )
    assert "--index-url" in failed.fix
    assert only(findings, "torch.smoke").evidence["devices"] == ["cpu"]


def test_wheel_tag_skips_pre_blackwell_wheels_for_blackwell_gpus():
    assert (
        torch_build.wheel_tag("560.35.03", "12.6", "12.0") == "cu128"
    )  # not cu126: it has no sm_120 kernels
    assert torch_build.wheel_tag("470.82.01", "11.4", "8.0") == "cu118"  # minor version compatibility
    assert torch_build.wheel_tag("560.35.03", "12.6", "8.6") == "cu126"
    assert torch_build.wheel_tag("580.65.06", "13.0", "12.0") == "cu130"


def test_real_child_reports_this_torch_and_passes_the_cpu_smoke_test():
    import torch

    facts = torch_build.collect(timeout=60, smoke=True)
    assert facts["installed"] and facts["version"] == torch.__version__
    assert facts["build"] == ("cuda" if torch.version.cuda else "rocm" if torch.version.hip else "cpu")
    assert facts["cuda_available"] == torch.cuda.is_available()
    assert facts["smoke"][0]["device"] == "cpu" and facts["smoke"][0]["ok"], facts["smoke"]


def test_a_hung_child_is_killed_at_the_timeout(monkeypatch, tmp_path):
    script = tmp_path / "hang.py"
    script.write_text(
        "import json, sys, time\nprint(json.dumps({'kind': 'build', 'version': '9.9', "
        "'build': 'cpu', 'cuda': None, 'hip': None, 'cudnn': None}), flush=True)\ntime.sleep(60)\n"
    )
    monkeypatch.setattr(torch_build, "CHILD_SCRIPT", script)
    started = time.monotonic()
    facts = torch_build.collect(timeout=1.0, smoke=True)
    assert time.monotonic() - started < 5
    assert facts["version"] == "9.9"  # what was printed before the hang is kept
    assert facts["probe_error"] == "timed out after 1 s"
    assert facts["smoke"][0]["device"] == "cpu" and not facts["smoke"][0]["ok"]


def test_cancel_stops_the_child_promptly(monkeypatch, tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(torch_build, "CHILD_SCRIPT", script)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    facts = torch_build.collect(timeout=30, smoke=False, cancel=cancel)
    assert time.monotonic() - started < 5 and facts["probe_error"] == "cancelled"


def test_a_crashing_child_is_reported_not_raised(monkeypatch, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text("import sys\nsys.stderr.write('Segmentation fault\\n')\nsys.exit(139)\n")
    monkeypatch.setattr(torch_build, "CHILD_SCRIPT", script)
    facts = torch_build.collect(timeout=30, smoke=False)
    assert "Segmentation fault" in facts["probe_error"]
    assert sys.executable  # the parent survived; findings then say torch.probe_failed
    assert ids(torch_build.assess(facts, NO_NVML)) == ["torch.probe_failed"]
