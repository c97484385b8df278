"""Model ▸ Get pretrained models…: the catalogue of public MAE checkpoints, downloads, Open.

A download runs on its own Python thread (app/download_worker.py); its progress comes back to
the GUI thread through queued signals, at most about 10 times a second. The GUI thread never
waits on the network: Cancel and closing the dialog only set an Event that the thread checks
between chunks. Everything here runs on the GUI thread.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.catalogue import CATALOGUE, CatalogueEntry, cached_path
from ..engine.download import format_bytes, format_progress
from ..engine.fetch import Downloaded, is_complete, list_downloaded, partial_bytes
from ..paths import models_cache_dir
from .download_worker import THROTTLE_S, _Job, _Relay

if TYPE_CHECKING:
    from .files import FileActions

COLUMNS = ("Name", "Size", "Contents", "Licence", "State")


class DownloadDialog(QDialog):
    """The catalogue, each entry's state in the cache, one download at a time, Open.

    entries/root/endpoint default to the public catalogue, the per-user model cache and the
    Hub's address (tests point them at a loopback server). `confirm_licence(entry) -> bool`
    asks before a download whose licence needs accepting (tests replace it).
    """

    download_finished = Signal(str)  # the path, after it was checked to open
    download_failed = Signal(str, bool)  # message, cancelled

    def __init__(
        self,
        parent: QWidget,
        files: FileActions,
        entries: tuple[CatalogueEntry, ...] = CATALOGUE,
        root: str | Path | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.files, self.entries, self.endpoint = files, entries, endpoint
        self.root = Path(root) if root is not None else models_cache_dir()
        self.setWindowTitle("Get pretrained models")
        self.resize(980, 560)
        self._relay = _Relay(self)  # parented: never destroyed by the download thread
        self._relay.progressed.connect(self._on_progressed)
        self._relay.status.connect(self._on_status)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._job: _Job | None = None
        self._jobs = 0
        self._accepted: set[str] = set()
        self._rows: list[CatalogueEntry | Downloaded] = []
        self._poll = QTimer(self, interval=100)  # a cancelled thread winding down
        self._poll.timeout.connect(self._on_poll)
        # the last update before the data stalls may have been held back by the throttle:
        # look again a little later
        self._trail = QTimer(self, singleShot=True, interval=int(THROTTLE_S * 1500))
        self._trail.timeout.connect(self._on_trail)
        self._shown: tuple[int, int | None, float] | None = None
        self.confirm_licence = self._ask_licence
        self._build()
        parent.installEventFilter(self)  # the window closing ends a download too
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)
        self.refresh()

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        intro = QLabel(
            "Public pretrained MAE checkpoints. Downloads are saved in "
            f"<code>{html.escape(str(self.root))}</code>, resume where they stopped, and are "
            "checked to open before they are offered."
        )
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            mode = (
                QHeaderView.ResizeMode.Stretch if col == 2 else QHeaderView.ResizeMode.Interactive
            )
            header.setSectionResizeMode(col, mode)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.cellDoubleClicked.connect(lambda _row, _col: self.open_selected())
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setOpenExternalLinks(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.details.setMinimumHeight(90)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton("Open")
        close = QPushButton("Close")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.open_button.clicked.connect(self.open_selected)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.download_button, self.cancel_button, self.open_button, close):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    # -- state ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild the table from the catalogue and the cache folder (disk only: works
        offline), keeping the selection."""
        keep = self.selected_name()
        extra = [d for d in list_downloaded(self.root, self.entries) if d.entry is None]
        self._rows = [*self.entries, *extra]
        self.table.setRowCount(len(self._rows))
        for row, item in enumerate(self._rows):
            if isinstance(item, Downloaded):
                cells = (item.name, format_bytes(item.size_bytes), "downloaded file", "", "")
                tip = str(item.path)
            else:
                cells = (
                    item.name,
                    f"~{format_bytes(item.size_bytes)}",
                    item.contents,
                    item.licence,
                    "",
                )
                tip = item.title
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(tip if col == 0 else text)
                self.table.setItem(row, col, cell)
            self.table.item(row, 4).setText(self._state_text(item))
        self.table.resizeColumnToContents(0)
        for col in (1, 3, 4):
            self.table.resizeColumnToContents(col)
        self.select(keep or (self._rows[0].name if self._rows else ""))
        self._sync_buttons()

    def _state_text(self, item: CatalogueEntry | Downloaded) -> str:
        if isinstance(item, Downloaded):
            return "downloaded"
        job = self._job
        if job is not None and not job.reported and job.alive() and job.entry.name == item.name:
            return "downloading…" if not job.cancel.is_set() else "stopping…"
        if is_complete(self.path_of(item)):
            return "downloaded"
        have = partial_bytes(self.path_of(item))
        return f"partial: {format_bytes(have)}" if have else ""

    def path_of(self, item: CatalogueEntry | Downloaded) -> Path:
        return item.path if isinstance(item, Downloaded) else cached_path(item, self.root)

    def selected(self) -> CatalogueEntry | Downloaded | None:
        rows = self.table.selectionModel().selectedRows()
        return self._rows[rows[0].row()] if rows else None

    def selected_name(self) -> str:
        item = self.selected()
        return item.name if item is not None else ""

    def select(self, name: str) -> None:
        for row, item in enumerate(self._rows):
            if item.name == name:
                self.table.selectRow(row)
                return

    def busy(self) -> bool:
        """A download thread is running (possibly winding down after Cancel)."""
        return self._job is not None and self._job.alive()

    def _sync_buttons(self) -> None:
        item = self.selected()
        busy = self.busy()
        ready = item is not None and is_complete(self.path_of(item))
        self.download_button.setEnabled(item is not None and not busy and not ready)
        self.cancel_button.setEnabled(busy and not self._job.cancel.is_set())
        self.open_button.setEnabled(ready)
        self.download_button.setText(
            "Resume download"
            if isinstance(item, CatalogueEntry) and partial_bytes(self.path_of(item))
            else "Download"
        )

    def _on_selection(self) -> None:
        item = self.selected()
        if isinstance(item, Downloaded):
            name, where = html.escape(item.name), html.escape(str(item.path))
            self.details.setText(f"<b>{name}</b><br>{where}")
        elif item is not None:
            link = html.escape(item.url)
            self.details.setText(
                f"<b>{html.escape(item.title)}</b> — {html.escape(item.contents)}<br>"
                f"Source: {html.escape(item.source)} · <a href='{link}'>{link}</a><br>"
                f"Licence: <b>{html.escape(item.licence)}</b> — "
                f"{html.escape(item.licence_text)} "
                f"<a href='{html.escape(item.licence_url)}'>Licence</a>"
            )
        else:
            self.details.clear()
        self._sync_buttons()

    # -- actions -------------------------------------------------------------------------------
    def _ask_licence(self, entry: CatalogueEntry) -> bool:
        box = QMessageBox(self)
        box.setWindowTitle(f"Licence of {entry.name}")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(f"<b>{html.escape(entry.title)}</b><br>Licence: {html.escape(entry.licence)}")
        box.setInformativeText(entry.licence_text + "\n\nDo you accept these terms?")
        accept = box.addButton("Accept and download", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is accept

    def download_selected(self) -> bool:
        """Start downloading the selected entry (after its licence is accepted); False when
        nothing started."""
        item = self.selected()
        if not isinstance(item, CatalogueEntry) or self.busy():
            return False
        if item.needs_acceptance and item.name not in self._accepted:
            if not self.confirm_licence(item):
                return False
            self._accepted.add(item.name)
        self._jobs += 1
        self._job = _Job(self._jobs, item, self.root, self._relay, self.endpoint)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.show()
        self._set_message(f"Connecting to download {item.name}…")
        self._job.thread.start()
        self.refresh()
        return True

    def cancel_download(self) -> None:
        """Stop the running download; its partial file stays and Download resumes it."""
        if self.busy():
            assert self._job is not None
            self._job.cancel.set()
            self._set_message("Stopping…")
            self._poll.start()
        self._sync_buttons()

    def stop(self) -> None:
        """Cancel a running download and hear nothing more from it (closing, quitting)."""
        if self._job is not None:
            self._job.detach()
            if self._job.alive():
                self._poll.start()

    def open_selected(self) -> bool:
        """Open the selected downloaded checkpoint in the window (on its worker)."""
        item = self.selected()
        if item is None or not is_complete(self.path_of(item)):
            return False
        self.files.open_checkpoint(self.path_of(item))
        job = self._job
        if job is None or job.reported or not job.alive():  # no other download to keep going
            self.close()
        return True

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.message.setText(text)

    # -- news from the download thread (queued, GUI thread) -------------------------------------
    def _current(self, ident: int) -> bool:
        return self._job is not None and self._job.ident == ident

    def _on_progressed(self, ident: int, done: int, total: int | None, rate: float) -> None:
        if self._current(ident):
            self._show_progress(done, total, rate)
            self._trail.start()

    def _on_trail(self) -> None:
        latest = self._job.latest() if self._job is not None and self._job.alive() else None
        if latest is not None and latest != self._shown and not self._job.cancel.is_set():
            self._show_progress(*latest)

    def _show_progress(self, done: int, total: int | None, rate: float) -> None:
        self._shown = (done, total, rate)
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, done * 1000 // total))
        else:
            self.progress.setRange(0, 0)  # size unknown: a busy bar
        self._set_message(format_progress(done, total, rate))

    def _on_status(self, ident: int, text: str) -> None:
        if self._current(ident):
            self._set_message(text[:1].upper() + text[1:])

    def _on_finished(self, ident: int, path: str) -> None:
        if not self._current(ident):
            return
        self.progress.hide()
        self._set_message(f"Downloaded and checked: {path}. Open shows it in the window.")
        self._ended()
        name = self._job.entry.name if self._job is not None else ""
        self.select(name)
        self.download_finished.emit(path)

    def _on_failed(self, ident: int, message: str, cancelled: bool) -> None:
        if not self._current(ident):
            return
        self.progress.hide()
        if cancelled:
            self._set_message("Cancelled. The part already downloaded is kept: Download resumes.")
        else:
            self._set_message(message, error=True)
        self._ended()
        self.download_failed.emit(message, cancelled)

    def _ended(self) -> None:
        if self._job is not None:
            self._job.reported = True
        # the thread posts its last signal just before it returns: poll until it has
        self._poll.start()
        self.refresh()

    def _on_poll(self) -> None:
        """Every 100 ms while a download thread winds down: once it has ended, the table
        and buttons show it (a detached job sends no last signal)."""
        if self.busy():
            self._sync_buttons()
            return
        self._poll.stop()
        if self.progress.isVisible():  # ended without a word: it was stopped by closing
            self.progress.hide()
            self._set_message("Cancelled. The part already downloaded is kept: Download resumes.")
        self.refresh()

    # -- closing -------------------------------------------------------------------------------
    def hideEvent(self, event) -> None:
        """Closing the dialog (Close, Esc, the title bar) cancels a download; the partial
        file stays. A minimised window (a spontaneous hide) does not."""
        if not event.spontaneous():
            self.cancel_download()
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and watched is self.parent():
            self.stop()
            self.hide()
        return False


def show_download_dialog(win) -> DownloadDialog:
    """Model ▸ Get pretrained models…: show the window's dialog (made once, kept: a
    download can go on while it is open)."""
    dialog = win.findChild(DownloadDialog)
    if dialog is None:
        dialog = DownloadDialog(win, win.files)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
