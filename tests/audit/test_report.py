"""Text report and JSON document built from a fake audit: the keys the issue promises, exit codes, fixes shown."""

from __future__ import annotations

import json

from tests.fakes import NO_NVML, fake_cpu_torch, fake_dist, fake_gpu_facts
from tui_trainer.audit import report, torch_build
from tui_trainer.audit.runner import PROBES, AuditResult, ProbeReport
from tui_trainer.findings import Finding, Severity


def result(findings, gpus=None):
    return AuditResult(
        python={
            "version": "3.11.7",
            "executable": "/v/bin/python",
            "venv": True,
            "env_kind": "venv",
            "pip_version": "24.0",
        },
        packages={"installed": [fake_dist("numpy", "2.1.0", "x"), fake_dist("Pillow", "11.0.0")]},
        torch=fake_cpu_torch(smoke_requested=True),
        gpus=gpus or fake_gpu_facts(),
        host={"cpu_usable": 8},
        project={"cwd": "/w", "git_root": "/w", "dirty_files": 0},
        findings=findings,
        probes=[ProbeReport(n, "ok", 0.1) for n in PROBES],
        seconds=1.234,
    )


def test_json_has_the_promised_keys_and_types():
    findings = torch_build.assess(fake_cpu_torch(), fake_gpu_facts())
    doc = json.loads(json.dumps(report.to_json(result(findings))))
    assert {"python", "packages", "torch", "gpus", "host", "findings"} <= set(doc)
    assert {"version", "executable", "venv"} <= set(doc["python"])
    assert doc["packages"] == [{"name": "numpy", "version": "2.1.0"}, {"name": "Pillow", "version": "11.0.0"}]
    assert {"installed", "version", "cuda", "cuda_available"} <= set(doc["torch"])
    assert "smoke_requested" not in doc["torch"]
    assert doc["gpus"][0]["name"] == "NVIDIA A100-SXM4-80GB"
    assert (
        doc["findings"][0]["id"] == "torch.cpu_build_with_gpu" and doc["findings"][0]["severity"] == "error"
    )
    assert doc["summary"] == {
        "worst": "error",
        "counts": {"error": 1, "warning": 0, "info": 0, "ok": 1},
        "exit_code": 1,
    }
    assert "differences" not in doc
    diffs = [{"kind": "package", "name": "numpy", "snapshot": "1.0", "current": "2.1.0"}]
    assert report.to_json(result(findings), diffs)["differences"] == diffs


def test_exit_code_is_0_without_errors_and_1_with_one():
    warning = Finding("x.w", Severity.WARNING, "w")
    assert report.exit_code(result([warning])) == 0
    assert report.exit_code(result([warning, Finding("x.e", Severity.ERROR, "e")])) == 1


def test_text_report_shows_summary_fixes_and_differences():
    findings = torch_build.assess(fake_cpu_torch(), fake_gpu_facts())
    text = report.render_text(
        result(findings),
        [{"kind": "package", "name": "numpy", "snapshot": None, "current": "2.1.0"}],
        "env.toml",
    )
    assert "PyTorch  2.5.1+cpu · CPU-only" in text
    assert "✖ error   torch.cpu_build_with_gpu" in text
    assert (
        "fix: pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124" in text
    )
    assert "Differences from env.toml: 1" in text and "package numpy: added (2.1.0)" in text
    assert text.rstrip().endswith("1 error(s), 0 warning(s), 0 info, 1 ok · 1.23 s")


def test_summary_without_nvml_or_torch():
    res = result([], gpus=dict(NO_NVML))
    res.torch = {"installed": False}
    rows = dict(report.summary_lines(res))
    assert rows["PyTorch"] == "not installed" and rows["GPUs"].startswith("none (NVML: NVML Shared Library")
