"""Model ▸ Get pretrained models…: the dialog downloads on a background thread (from a
loopback server), shows progress, cancels, resumes, opens the result in the window, and ends
its thread when closed."""

from __future__ import annotations

import dataclasses

import pytest

from mae_desktop.app.download_dialog import DownloadDialog
from mae_desktop.engine.catalogue import CATALOGUE, CatalogueEntry, find
from tests.loopback import Loopback

TINY = CatalogueEntry(
    name="tiny-mae",
    title="A tiny MAE for the tests",
    kind="file",
    url="http://127.0.0.1:9/m/tiny.safetensors",  # replaced by the server's address
    size_bytes=600_000,
    decoder=True,
    target="pixel",
    contents="encoder + decoder, pixel target",
    licence="CC BY-NC 4.0",
    licence_text="non-commercial use only",
    licence_url="https://example.org/licence",
    source="the test suite",
)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_DESKTOP_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def served(hf_pair):
    """(server, entry, bytes): the tiny model's weights as one file, served in 8 kB chunks."""
    data = (hf_pair[1] / "model.safetensors").read_bytes()
    with Loopback({"/m/tiny.safetensors": data}) as srv:
        srv.chunk = 8 * 1024
        yield srv, dataclasses.replace(TINY, url=srv.url("/m/tiny.safetensors")), data


def make_dialog(window, tmp_path, entries, endpoint=None) -> tuple[DownloadDialog, list[str]]:
    dialog = DownloadDialog(window, window.files, entries, tmp_path / "cache", endpoint)
    asked: list[str] = []
    dialog.confirm_licence = lambda e: asked.append(e.name) is None  # accepts, remembers
    dialog.show()
    return dialog, asked


def row_of(dialog: DownloadDialog, name: str) -> int:
    return next(r for r, item in enumerate(dialog._rows) if item.name == name)


def state(dialog: DownloadDialog, name: str) -> str:
    return dialog.table.item(row_of(dialog, name), 4).text()


def test_the_menu_opens_the_catalogue_with_the_cache_state(window, tmp_path, qtbot):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mae_visualize_vit_base.pth").write_bytes(b"x" * 10)
    (cache / "mae_pretrain_vit_huge.pth.part").write_bytes(b"x" * 2000)
    (cache / "mine.safetensors").write_bytes(b"x" * 3000)
    action = next(a for a in window.actions() if a.text() == "Get pretrained models…")
    action.trigger()
    dialog = window.findChild(DownloadDialog)
    assert dialog is not None and dialog.isVisible()
    action.trigger()  # the same dialog again, not a second one
    assert len(window.findChildren(DownloadDialog)) == 1
    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert names == [e.name for e in CATALOGUE] + ["mine.safetensors"]
    assert state(dialog, "mae-vit-base-visualize") == "downloaded"
    assert state(dialog, "mae-vit-huge-pretrain") == "partial: 2.0 kB"
    assert state(dialog, "hf-vit-mae-large") == ""
    row = row_of(dialog, "mae-vit-large-gan-visualize")
    assert dialog.table.item(row, 1).text() == "~1.3 GB"
    assert dialog.table.item(row, 3).text() == "CC BY-NC 4.0"
    dialog.table.selectRow(row)
    assert "GAN loss" in dialog.details.text()
    assert "non-commercial" in dialog.details.text()
    assert "mae_visualize_vit_large_ganloss.pth" in dialog.details.text()
    assert dialog.download_button.isEnabled() and not dialog.open_button.isEnabled()
    dialog.table.selectRow(row_of(dialog, "mae-vit-huge-pretrain"))
    assert dialog.download_button.text() == "Resume download"
    dialog.table.selectRow(row_of(dialog, "mae-vit-base-visualize"))
    assert dialog.open_button.isEnabled() and not dialog.download_button.isEnabled()
    dialog.table.selectRow(row_of(dialog, "hf-vit-mae-base"))
    assert "apache-2.0" in dialog.details.text() and "CC BY-NC 4.0" in dialog.details.text()
    dialog.close()


def test_download_cancel_resume_and_open(window, served, tmp_path, qtbot):
    srv, entry, data = served
    dialog, asked = make_dialog(window, tmp_path, (entry,))
    dialog.table.selectRow(0)
    srv.hold_after_bytes = 200_000  # the server pauses there until released
    assert dialog.download_selected()
    assert asked == ["tiny-mae"]  # the licence was shown and accepted
    qtbot.waitUntil(lambda: dialog.message.text().startswith("200 kB of 618 kB"), timeout=10000)
    assert dialog.progress.value() == 200_000 * 1000 // len(data)
    assert state(dialog, "tiny-mae") == "downloading…"
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()

    with qtbot.waitSignal(dialog.download_failed, timeout=10000) as failed:
        dialog.cancel_button.click()
        srv.release.set()  # the next chunk arrives; the thread sees the cancel
    assert failed.args[1] is True
    part = tmp_path / "cache" / "tiny.safetensors.part"
    have = part.stat().st_size
    assert 200_000 <= have < len(data)
    assert "Cancelled" in dialog.message.text()
    qtbot.waitUntil(dialog.download_button.isEnabled, timeout=5000)  # once the thread ended
    assert not dialog.busy() and dialog.download_button.text() == "Resume download"
    assert state(dialog, "tiny-mae").startswith("partial: ")

    srv.hold_after_bytes = None
    with qtbot.waitSignal(dialog.download_finished, timeout=10000) as finished:
        dialog.download_button.click()
    path = tmp_path / "cache" / "tiny.safetensors"
    assert finished.args == [str(path)]
    assert path.read_bytes() == data and not part.exists()
    assert srv.requests[-1] == ("/m/tiny.safetensors", f"bytes={have}-")
    assert asked == ["tiny-mae"]  # not asked twice
    assert state(dialog, "tiny-mae") == "downloaded"
    assert dialog.open_button.isEnabled()

    with qtbot.waitSignal(window.model_loaded, timeout=30000) as loaded:
        dialog.open_button.click()
    assert loaded.args[0]["path"] == str(path)
    assert not dialog.isVisible()


def test_a_hub_model_downloads_and_opens_with_a_double_click(window, hf_pair, tmp_path, qtbot):
    with Loopback() as srv:
        srv.add_folder("/facebook/vit-mae-base/resolve/main", hf_pair[1])
        entry = find("hf-vit-mae-base")
        dialog, _ = make_dialog(window, tmp_path, (entry,), srv.endpoint)
        dialog.table.selectRow(0)
        with qtbot.waitSignal(dialog.download_finished, timeout=10000) as finished:
            dialog.download_button.click()
    folder = tmp_path / "cache" / "hf-vit-mae-base"
    assert finished.args == [str(folder)]
    assert (folder / "model.safetensors").read_bytes() == (
        hf_pair[1] / "model.safetensors"
    ).read_bytes()
    with qtbot.waitSignal(window.model_loaded, timeout=30000) as loaded:
        dialog.table.cellDoubleClicked.emit(0, 0)
    assert loaded.args[0]["path"] == str(folder)


def test_closing_the_dialog_mid_download_ends_the_thread(window, served, tmp_path, qtbot):
    srv, entry, data = served
    dialog, _ = make_dialog(window, tmp_path, (entry,))
    dialog.table.selectRow(0)
    srv.hold_after_bytes = 100_000
    dialog.download_selected()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10000)
    thread = dialog._job.thread
    dialog.close()
    srv.release.set()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10000)
    assert not dialog.isVisible()
    assert (tmp_path / "cache" / "tiny.safetensors.part").stat().st_size < len(data)
    assert not (tmp_path / "cache" / "tiny.safetensors").exists()


def test_closing_the_window_mid_download_ends_the_thread(window, served, tmp_path, qtbot):
    srv, entry, _ = served
    dialog, _ = make_dialog(window, tmp_path, (entry,))
    dialog.table.selectRow(0)
    srv.hold_after_bytes = 100_000
    dialog.download_selected()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10000)
    thread = dialog._job.thread
    window.close()
    srv.release.set()
    thread.join(10)  # the test may wait; the window never does
    assert not thread.is_alive() and not dialog.isVisible()


def test_errors_are_shown_and_downloaded_models_stay_openable(window, tmp_path, qtbot, hf_pair):
    cache = tmp_path / "cache"
    cache.mkdir()
    mine = cache / "mine.safetensors"
    mine.write_bytes((hf_pair[1] / "model.safetensors").read_bytes())
    with Loopback() as srv:
        url = srv.url("/gone.pth")
        entry = dataclasses.replace(TINY, url=url)
        dialog, _ = make_dialog(window, tmp_path, (entry,))
        dialog.table.selectRow(0)
        with qtbot.waitSignal(dialog.download_failed, timeout=10000) as failed:
            dialog.download_button.click()
    assert failed.args == [f"{url}: not found (HTTP 404)", False]
    assert dialog.message.text() == failed.args[0] and "color" in dialog.message.styleSheet()
    assert not dialog.progress.isVisible()
    dialog.table.selectRow(row_of(dialog, "mine.safetensors"))
    assert dialog.open_button.isEnabled()
    with qtbot.waitSignal(window.model_loaded, timeout=30000) as loaded:
        dialog.open_selected()
    assert loaded.args[0]["path"] == str(mine)


def test_declining_the_licence_downloads_nothing(window, served, tmp_path, qtbot):
    srv, entry, _ = served
    dialog, _ = make_dialog(window, tmp_path, (entry,))
    dialog.confirm_licence = lambda e: False
    dialog.table.selectRow(0)
    assert not dialog.download_selected()
    assert srv.requests == [] and not dialog.busy()
