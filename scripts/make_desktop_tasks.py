"""Writes the desktop env's tasks (OSWorld task JSON, one file each) to assets/desktop/tasks/.

Deterministic: run it again and the files are byte-identical. Each task carries `oracle`, a
scripted solution whose steps name their targets by CSS selector; the env turns them into
pixel coordinates when it plays them. Run: python scripts/make_desktop_tasks.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "assets" / "desktop" / "tasks"
HOME = "/home/user"
DOCS, DL = f"{HOME}/Documents", f"{HOME}/Downloads"
NOTES = "Meeting notes\n- review budget\n- plan the team offsite\n"
TODO = "buy milk\ncall Alice\nfix the printer\n"


# -- oracle step helpers (computer_13 actions with CSS targets instead of pixels) ---------------
def k(key: str) -> str:
    return f'[data-k="{key}"]'


def click(key: str, **extra) -> dict:
    return {"action_type": "CLICK", "target": k(key), **extra}


def dbl(key: str) -> dict:
    return {"action_type": "DOUBLE_CLICK", "target": k(key)}


def rclick(key: str) -> dict:
    return {"action_type": "RIGHT_CLICK", "target": k(key)}


def move(key: str) -> dict:
    return {"action_type": "MOVE_TO", "target": k(key)}


def drag(key: str, **offset) -> dict:
    return {"action_type": "DRAG_TO", "target": k(key), **offset}


def typ(text: str) -> dict:
    return {"action_type": "TYPING", "text": text}


def press(key: str) -> dict:
    return {"action_type": "PRESS", "key": key}


def hot(*keys: str) -> dict:
    return {"action_type": "HOTKEY", "keys": list(keys)}


DONE, FAIL = {"action_type": "DONE"}, {"action_type": "FAIL"}


# -- config / evaluator helpers ----------------------------------------------------------------
def launch(app: str) -> dict:
    return {"type": "launch", "parameters": {"app": app}}


def open_(path: str) -> dict:
    return {"type": "open", "parameters": {"path": path}}


def create(path: str, content: str) -> dict:
    return {"type": "create_file", "parameters": {"path": path, "content": content}}


def mkdir(path: str) -> dict:
    return {"type": "mkdir", "parameters": {"path": path}}


def rule(**rules) -> dict:
    return {"type": "rule", "rules": rules}


def ev(func, result, expected=None, options=None, conj=None) -> dict:
    e = {"func": func, "result": result}
    if expected is not None:
        e["expected"] = expected
    if options is not None:
        e["options"] = options
    if conj:
        e["conj"] = conj
    return e


def ftype(path: str) -> dict:
    return {"type": "vfs_type", "path": path}


def fcontent(path: str) -> dict:
    return {"type": "vfs_file", "path": path}


def setting(key: str) -> dict:
    return {"type": "settings", "key": key}


TASKS: list[dict] = []


def task(tid: str, app: str, instruction: str, config: list, evaluator: dict, oracle: list) -> None:
    TASKS.append({
        "id": tid, "snapshot": "stepgym-desktop", "instruction": instruction, "source": "stepgym",
        "config": config, "related_apps": [app] if isinstance(app, str) else app,
        "evaluator": evaluator, "oracle": oracle,
    })


# ---------------------------------------------------------------- Files
task("files-new-folder", "files", "In the file manager, create a folder named 'Projects' in your home folder.",
     [launch("files")], ev("exact_match", ftype(f"{HOME}/Projects"), rule(expected="dir")),
     [click("files-newfolder"), typ("Projects"), press("enter"), DONE])
task("files-rename-todo", "files", "Rename todo.txt in Documents to tasks.txt.",
     [open_(DOCS)],
     ev(["compare_text", "exact_match"], [fcontent(f"{DOCS}/tasks.txt"), ftype(f"{DOCS}/todo.txt")],
        [rule(expected=TODO), rule(expected=None)]),
     [click("file-todo.txt"), press("f2"), typ("tasks.txt"), press("enter"), DONE])
task("files-trash-invoice", "files", "Move invoice_march.txt from the Downloads folder to the Trash.",
     [launch("files")],
     ev(["exact_match", "exact_match"], [ftype("/trash/invoice_march.txt"), ftype(f"{DL}/invoice_march.txt")],
        [rule(expected="file"), rule(expected=None)]),
     [click("place-downloads"), click("file-invoice_march.txt"), press("delete"), DONE])
task("files-drag-to-documents", "files", "Using drag and drop, move setup_notes.txt from Downloads into the Documents folder.",
     [open_(DL)],
     ev(["exact_match", "exact_match"], [ftype(f"{DOCS}/setup_notes.txt"), ftype(f"{DL}/setup_notes.txt")],
        [rule(expected="file"), rule(expected=None)]),
     [move("file-setup_notes.txt"), drag("place-documents"), DONE])
task("files-press-and-release-drag", "files", "Move invoice_march.txt from Downloads to Documents by pressing the mouse on it, moving onto Documents and releasing.",
     [open_(DL)],
     ev(["exact_match", "exact_match"], [ftype(f"{DOCS}/invoice_march.txt"), ftype(f"{DL}/invoice_march.txt")],
        [rule(expected="file"), rule(expected=None)]),
     [move("file-invoice_march.txt"), {"action_type": "MOUSE_DOWN", "button": "left"}, move("place-documents"),
      {"action_type": "MOUSE_UP", "button": "left"}, DONE])
task("files-new-file", "files", "Create an empty file named ideas.txt in the Documents folder.",
     [open_(DOCS)], ev("exact_match", fcontent(f"{DOCS}/ideas.txt"), rule(expected="")),
     [click("files-newfile"), typ("ideas.txt"), press("enter"), DONE])
task("files-context-rename", "files", "Use the right-click menu to rename notes.txt in Documents to meeting.txt.",
     [open_(DOCS)],
     ev(["compare_text", "exact_match"], [fcontent(f"{DOCS}/meeting.txt"), ftype(f"{DOCS}/notes.txt")],
        [rule(expected=NOTES), rule(expected=None)]),
     [rclick("file-notes.txt"), click("ctx-rename"), typ("meeting.txt"), press("enter"), DONE])
task("files-nested-folder", "files", "Create a folder named 2024 inside Documents/Archive.",
     [mkdir(f"{DOCS}/Archive"), open_(DOCS)], ev("exact_match", ftype(f"{DOCS}/Archive/2024"), rule(expected="dir")),
     [dbl("file-Archive"), click("files-newfolder"), typ("2024"), press("enter"), DONE])
task("files-drag-into-folder", "files", "Move todo.txt into the Old folder (both are in Documents).",
     [mkdir(f"{DOCS}/Old"), open_(DOCS)],
     ev(["exact_match", "exact_match"], [ftype(f"{DOCS}/Old/todo.txt"), ftype(f"{DOCS}/todo.txt")],
        [rule(expected="file"), rule(expected=None)]),
     [move("file-todo.txt"), drag("file-Old"), DONE])
task("files-open-in-editor", ["files", "editor"], "Open notes.txt from the Documents folder in the text editor.",
     [open_(DOCS)], ev("exact_match", {"type": "editor", "field": "path"}, rule(expected=f"{DOCS}/notes.txt")),
     [dbl("file-notes.txt"), DONE])
task("files-delete-from-trash", "files", "Permanently delete old_draft.txt from the Trash.",
     [create("/trash/old_draft.txt", "draft"), launch("files")],
     ev("exact_match", ftype("/trash/old_draft.txt"), rule(expected=None)),
     [click("place-trash"), click("file-old_draft.txt"), press("delete"), DONE])
task("files-rename-folder", "files", "Rename the Pictures folder in your home folder to Photos.",
     [launch("files")],
     ev(["exact_match", "exact_match"], [ftype(f"{HOME}/Photos"), ftype(f"{HOME}/Pictures")],
        [rule(expected="dir"), rule(expected=None)]),
     [click("file-Pictures"), click("files-rename"), typ("Photos"), press("enter"), DONE])
task("files-clear-downloads", "files", "Move every file in Downloads to the Trash, leaving Downloads empty.",
     [open_(DL)], ev("check_list_equal", {"type": "vfs_listing", "path": DL}, rule(expected=[])),
     [click("file-invoice_march.txt"), press("delete"), click("file-setup_notes.txt"), click("files-delete"), DONE])
task("files-copy-name-folder", "files", "Create a folder named Reports inside Documents, then move budget.csv into it.",
     [open_(DOCS)],
     ev(["exact_match", "exact_match"], [ftype(f"{DOCS}/Reports/budget.csv"), ftype(f"{DOCS}/budget.csv")],
        [rule(expected="file"), rule(expected=None)]),
     [click("files-newfolder"), typ("Reports"), press("enter"), move("file-budget.csv"), drag("file-Reports"), DONE])

# ---------------------------------------------------------------- Text editor
task("editor-hello", "editor", f"Create the text file {DOCS}/hello.txt containing exactly: Hello, world!",
     [launch("editor")], ev("compare_text", fcontent(f"{DOCS}/hello.txt"), rule(expected="Hello, world!")),
     [click("editor-text"), typ("Hello, world!"), hot("ctrl", "s"), typ(f"{DOCS}/hello.txt"), press("enter"), DONE])
task("editor-append-line", "editor", "Add the line 'water the plants' at the end of todo.txt and save it.",
     [open_(f"{DOCS}/todo.txt")],
     ev("compare_text", fcontent(f"{DOCS}/todo.txt"), rule(expected=TODO + "water the plants\n")),
     [click("editor-text"), hot("ctrl", "end"), typ("water the plants\n"), hot("ctrl", "s"), DONE])
task("editor-replace-word", "editor", "In notes.txt replace every 'budget' with 'forecast' and save the file.",
     [open_(f"{DOCS}/notes.txt")],
     ev("check_include_exclude", fcontent(f"{DOCS}/notes.txt"), rule(include=["review forecast"], exclude=["budget"])),
     [click("editor-text"), hot("ctrl", "h"), typ("budget\tforecast"), click("editor-replaceall"), hot("ctrl", "s"), DONE])
task("editor-uppercase", "editor", "Make all of todo.txt upper case using the Edit menu, then save it.",
     [open_(f"{DOCS}/todo.txt")], ev("compare_text", fcontent(f"{DOCS}/todo.txt"), rule(expected=TODO.upper())),
     [click("editor-menu-edit"), click("editor-upper"), hot("ctrl", "s"), DONE])
task("editor-save-copy", "editor", f"Save a copy of notes.txt as {DOCS}/notes_copy.txt with File > Save As.",
     [open_(f"{DOCS}/notes.txt")],
     ev(["compare_text", "compare_text"], [fcontent(f"{DOCS}/notes_copy.txt"), fcontent(f"{DOCS}/notes.txt")],
        [rule(expected=NOTES), rule(expected=NOTES)]),
     [click("editor-menu-file"), click("editor-saveas"), typ(f"{DOCS}/notes_copy.txt"), click("editor-dialog-ok"), DONE])
task("editor-open-dialog", "editor", f"Open {DL}/invoice_march.txt in the text editor using File > Open.",
     [launch("editor")], ev("exact_match", {"type": "editor", "field": "path"}, rule(expected=f"{DL}/invoice_march.txt")),
     [click("editor-menu-file"), click("editor-open"), typ(f"{DL}/invoice_march.txt"), press("enter"), DONE])
task("editor-clear-file", "editor", "Delete all the text in todo.txt and save it, leaving the file empty.",
     [open_(f"{DOCS}/todo.txt")], ev("exact_match", fcontent(f"{DOCS}/todo.txt"), rule(expected="")),
     [click("editor-text"), hot("ctrl", "a"), press("backspace"), hot("ctrl", "s"), DONE])
task("editor-shopping-list", "editor", f"Write a shopping list with the lines eggs, bread and apples (one per line) and save it as {DOCS}/shopping.txt.",
     [launch("editor")], ev("compare_text", fcontent(f"{DOCS}/shopping.txt"), rule(expected="eggs\nbread\napples")),
     [click("editor-text"), typ("eggs\nbread\napples\n"), hot("ctrl", "s"), typ(f"{DOCS}/shopping.txt"), press("enter"), DONE])
task("editor-fix-typo", "editor", "letter.txt misspells 'the' as 'teh'. Fix it and save the file.",
     [create(f"{DOCS}/letter.txt", "Dear Sam,\nThank you for teh lovely gift.\nBest, Ann\n"), open_(f"{DOCS}/letter.txt")],
     ev("compare_text", fcontent(f"{DOCS}/letter.txt"), rule(expected="Dear Sam,\nThank you for the lovely gift.\nBest, Ann\n")),
     [hot("ctrl", "h"), typ("teh"), click("editor-replacewith"), typ("the"), press("enter"), hot("ctrl", "s"), DONE])
task("editor-delete-first-line", "editor", "Delete the first line of todo.txt ('buy milk') and save the file.",
     [open_(f"{DOCS}/todo.txt")],
     ev("compare_text", fcontent(f"{DOCS}/todo.txt"), rule(expected="call Alice\nfix the printer\n")),
     [click("editor-text"), hot("ctrl", "home"), {"action_type": "KEY_DOWN", "key": "shift"}, press("down"),
      {"action_type": "KEY_UP", "key": "shift"}, press("delete"), hot("ctrl", "s"), DONE])
task("editor-readme-via-files", ["files", "editor"], "Create README.txt in your home folder with the file manager, open it and write 'stepgym desktop' in it, then save.",
     [launch("files")], ev("compare_text", fcontent(f"{HOME}/README.txt"), rule(expected="stepgym desktop")),
     [click("files-newfile"), typ("README.txt"), press("enter"), press("enter"), click("editor-text"), typ("stepgym desktop"),
      hot("ctrl", "s"), DONE])
task("editor-second-line", "editor", "Insert a new line 'Attendees: Ann, Bob' as the second line of notes.txt and save.",
     [open_(f"{DOCS}/notes.txt")],
     ev("compare_text", fcontent(f"{DOCS}/notes.txt"), rule(expected="Meeting notes\nAttendees: Ann, Bob\n- review budget\n- plan the team offsite\n")),
     [click("editor-text"), hot("ctrl", "home"), press("end"), typ("\nAttendees: Ann, Bob"), hot("ctrl", "s"), DONE])

# ---------------------------------------------------------------- Spreadsheet
task("sheet-sum-total", "sheet", "In budget.csv, write Total in A5 and the sum of B2:B4 in B5 with a formula, then save.",
     [open_(f"{DOCS}/budget.csv")],
     ev("check_csv_cells", fcontent(f"{DOCS}/budget.csv"), rule(cells={"A5": "Total", "B5": 1730})),
     [click("cell-A5"), typ("Total\t=SUM(B2:B4)\n"), hot("ctrl", "s"), DONE])
task("sheet-average", "sheet", "In the open spreadsheet, put the average cost of the three items in cell B6.",
     [open_(f"{DOCS}/budget.csv")],
     ev("compare_number", {"type": "sheet_cell", "cell": "B6"}, rule(expected=576.6667), options={"tol": 0.01}),
     [click("cell-B6"), typ("=AVERAGE(B2:B4)\n"), DONE])
task("sheet-edit-food", "sheet", "Change the cost of Food to 400 in budget.csv and save it.",
     [open_(f"{DOCS}/budget.csv")],
     ev("check_csv_cells", fcontent(f"{DOCS}/budget.csv"), rule(cells={"A3": "Food", "B3": 400, "B2": 1200})),
     [click("cell-B3"), typ("400\n"), hot("ctrl", "s"), DONE])
task("sheet-new-scores", "sheet", f"In a new spreadsheet enter Name/Score headers in A1:B1, then rows Ann 90 and Ben 75, and save it as {DOCS}/scores.csv.",
     [launch("sheet")],
     ev("check_csv_cells", fcontent(f"{DOCS}/scores.csv"), rule(cells={"A1": "Name", "B1": "Score", "A2": "Ann", "B2": 90, "A3": "Ben", "B3": 75})),
     [click("cell-A1"), typ("Name\tScore\n"), click("cell-A2"), typ("Ann\t90\n"), click("cell-A3"), typ("Ben\t75\n"),
      hot("ctrl", "s"), typ(f"{DOCS}/scores.csv"), press("enter"), DONE])
task("sheet-max", "sheet", "In cell D1 of the open budget spreadsheet, compute the largest cost.",
     [open_(f"{DOCS}/budget.csv")],
     ev("compare_number", {"type": "sheet_cell", "cell": "D1"}, rule(expected=1200)),
     [click("cell-D1"), typ("=MAX(B2:B4)\n"), DONE])
task("sheet-multiply", "sheet", "In a new spreadsheet put 12 in A1 and 7 in A2, and in A3 a formula multiplying them.",
     [launch("sheet")],
     ev(["compare_number", "check_include_exclude"], [{"type": "sheet_cell", "cell": "A3"}, {"type": "state_path", "path": "sheet.cells.A3"}],
        [rule(expected=84), rule(include=["="])]),
     [click("cell-A1"), typ("12\n7\n=A1*A2\n"), DONE])
task("sheet-clear-travel", "sheet", "Clear the Travel row (A4 and B4) in budget.csv and save.",
     [open_(f"{DOCS}/budget.csv")],
     ev("check_include_exclude", fcontent(f"{DOCS}/budget.csv"), rule(include=["Rent,1200", "Food,350"], exclude=["Travel", "180"])),
     [click("cell-A4"), press("delete"), press("right"), press("delete"), hot("ctrl", "s"), DONE])
task("sheet-tax-total", "sheet", "In budget.csv, put in B5 the total cost including 20% tax (sum of B2:B4 times 1.2), then save.",
     [open_(f"{DOCS}/budget.csv")],
     ev("check_csv_cells", fcontent(f"{DOCS}/budget.csv"), rule(cells={"B5": 2076})),
     [click("cell-B5"), typ("=SUM(B2:B4)*1.2\n"), hot("ctrl", "s"), DONE])
task("sheet-count", "sheet", "In cell D2 of the open spreadsheet, count how many cost values there are in B2:B4 using COUNT.",
     [open_(f"{DOCS}/budget.csv")],
     ev("compare_number", {"type": "sheet_cell", "cell": "D2"}, rule(expected=3)),
     [click("cell-D2"), typ("=COUNT(B2:B4)\n"), DONE])
task("sheet-via-files", ["files", "sheet"], "Open budget.csv from the file manager, set the Travel cost to 200 and save.",
     [open_(DOCS)],
     ev("check_csv_cells", fcontent(f"{DOCS}/budget.csv"), rule(cells={"A4": "Travel", "B4": 200})),
     [dbl("file-budget.csv"), click("cell-B4"), typ("200\n"), click("sheet-save"), DONE])
task("sheet-save-as", "sheet", f"Save the open budget spreadsheet under a new name, {DOCS}/budget_2025.csv, using Save As.",
     [open_(f"{DOCS}/budget.csv")],
     ev("check_csv_cells", fcontent(f"{DOCS}/budget_2025.csv"), rule(cells={"A2": "Rent", "B2": 1200, "B4": 180})),
     [click("sheet-saveas"), typ(f"{DOCS}/budget_2025.csv"), click("sheet-dialog-ok"), DONE])

task("sheet-scroll-last-row", "sheet", "In the open spreadsheet, write END in cell A15 (scroll down to reach it).",
     [open_(f"{DOCS}/budget.csv")],
     ev("exact_match", {"type": "state_path", "path": "sheet.cells.A15"}, rule(expected="END")),
     [move("cell-B8"), {"action_type": "SCROLL", "dx": 0, "dy": -3}, click("cell-A15"), typ("END\n"), DONE])

# ---------------------------------------------------------------- Mail
task("mail-send-bob", "mail", "Send an email to bob@desk.local with the subject 'Report' and the body 'The report is attached.'",
     [launch("mail")],
     ev("check_mail_sent", {"type": "mail_sent"}, rule(to="bob@desk.local", subject="Report", body_include=["The report is attached."])),
     [click("mail-new"), typ("bob@desk.local"), click("mail-subject"), typ("Report"), click("mail-body"),
      typ("The report is attached."), click("mail-send"), DONE])
task("mail-reply-alice", "mail", "Reply to Alice's lunch invitation saying 'Yes, see you at noon!'",
     [launch("mail")],
     ev("check_mail_sent", {"type": "mail_sent"}, rule(to="alice@desk.local", subject="Re: Lunch on Friday?", body_include=["see you at noon"])),
     [click("mail-msg-1"), click("mail-reply"), typ("Yes, see you at noon!"), click("mail-send"), DONE])
task("mail-delete-it", "mail", "Delete the 'Password expires soon' email.",
     [launch("mail")],
     ev(["check_list_contains", "check_list_contains"], [{"type": "mail_folder", "folder": "trash"}, {"type": "mail_folder", "folder": "inbox"}],
        [rule(include=["Password expires soon"]), rule(exclude=["Password expires soon"])]),
     [click("mail-msg-3"), click("mail-delete"), DONE])
task("mail-star-bob", "mail", "Star Bob's email about the quarterly report.",
     [launch("mail")],
     ev("exact_match", {"type": "mail_message", "subject": "Quarterly report", "field": "starred"}, rule(expected=True)),
     [click("mail-msg-2"), click("mail-star"), DONE])
task("mail-forward-carol", "mail", "Forward Bob's quarterly report email to carol@desk.local.",
     [launch("mail")],
     ev("check_mail_sent", {"type": "mail_sent"}, rule(to="carol@desk.local", subject="Fwd: Quarterly report", body_include=["quarterly report by Monday"])),
     [click("mail-msg-2"), click("mail-forward"), typ("carol@desk.local"), click("mail-send"), DONE])
task("mail-it-printer", "mail", "Email it@desk.local with the subject 'Printer' and the body 'The printer on floor 2 is broken.'",
     [launch("mail")],
     ev("check_mail_sent", {"type": "mail_sent"}, rule(to="it@desk.local", subject="Printer", body_include=["printer on floor 2 is broken"])),
     [hot("ctrl", "n"), typ("it@desk.local\tPrinter\tThe printer on floor 2 is broken."), click("mail-send"), DONE])
task("mail-reply-bob-total", ["mail", "sheet"], "Bob wants the budget total: reply to his email with the sum of the costs in budget.csv (1730).",
     [launch("mail")],
     ev("check_mail_sent", {"type": "mail_sent"}, rule(to="bob@desk.local", subject="Re: Quarterly report", body_include=["1730"])),
     [click("mail-msg-2"), click("mail-reply"), typ("Hi Bob, the budget total is 1730."), click("mail-send"), DONE])
task("mail-read-alice", "mail", "Open and read Alice's email so that it is no longer unread.",
     [launch("mail")],
     ev("exact_match", {"type": "mail_message", "subject": "Lunch on Friday?", "field": "read"}, rule(expected=True)),
     [click("mail-msg-1"), DONE])

# ---------------------------------------------------------------- Settings
task("settings-dark-theme", "settings", "Switch the desktop to the dark theme.",
     [launch("settings")], ev("exact_match", setting("theme"), rule(expected="dark")),
     [click("settings-theme-dark"), DONE])
task("settings-forest-wallpaper", "settings", "Change the wallpaper to the forest picture.",
     [launch("settings")], ev("exact_match", setting("wallpaper"), rule(expected="forest")),
     [click("settings-wallpaper-forest"), DONE])
task("settings-wifi-off", "settings", "Turn Wi-Fi off.",
     [launch("settings")], ev("exact_match", setting("wifi"), rule(expected=False)),
     [click("settings-page-network"), click("settings-wifi"), DONE])
task("settings-bluetooth-on", "settings", "Turn Bluetooth on.",
     [], ev("exact_match", setting("bluetooth"), rule(expected=True)),
     [dbl("icon-settings"), click("settings-page-network"), click("settings-bluetooth"), DONE])
task("settings-volume", "settings", "Set the volume to 75%.",
     [launch("settings")], ev("compare_number", setting("volume"), rule(expected=75)),
     [click("settings-page-sound"), click("settings-volume-75"), DONE])
task("settings-dnd", "settings", "Turn on Do not disturb.",
     [launch("settings")], ev("exact_match", setting("dnd"), rule(expected=True)),
     [click("settings-page-notifications"), click("settings-dnd"), DONE])
task("settings-username", "settings", "Change the display name to Ada Lovelace.",
     [launch("settings")], ev("exact_match", setting("username"), rule(expected="Ada Lovelace")),
     [click("settings-page-users"), click("settings-username"), hot("ctrl", "a"), typ("Ada Lovelace"), click("settings-username-apply"), DONE])
task("settings-large-text", "settings", "Make the text size large.",
     [launch("settings")], ev("exact_match", setting("fontSize"), rule(expected="large")),
     [click("settings-fontSize-large"), DONE])
task("settings-airplane", "settings", "Turn on airplane mode.",
     [launch("settings")],
     ev(["exact_match", "exact_match"], [setting("airplane"), setting("wifi")], [rule(expected=True), rule(expected=False)]),
     [click("settings-page-network"), click("settings-airplane"), DONE])
task("settings-dark-or-plain", "settings", "Make the desktop darker: either switch to the dark theme or pick the plain wallpaper.",
     [launch("settings")],
     ev(["exact_match", "exact_match"], [setting("theme"), setting("wallpaper")], [rule(expected="dark"), rule(expected="plain")], conj="or"),
     [click("settings-wallpaper-plain"), DONE])

# ---------------------------------------------------------------- Windows / desktop
task("desktop-open-two-apps", ["mail", "settings"], "Open both the Mail and the Settings apps.",
     [], ev("check_list_contains", {"type": "open_windows"}, rule(include=["mail", "settings"])),
     [dbl("icon-mail"), dbl("icon-settings"), DONE])
task("desktop-close-editor", "editor", "Close the Text Editor window but keep Files open.",
     [launch("files"), launch("editor")], ev("check_list_equal", {"type": "open_windows"}, rule(expected=["files"])),
     [click("close-editor"), DONE])
task("desktop-minimize-files", "files", "Minimize the Files window.",
     [launch("files")], ev("exact_match", {"type": "window", "app": "files", "field": "min"}, rule(expected=True)),
     [click("min-files"), DONE])
task("desktop-start-menu", "sheet", "Open the Spreadsheet app from the Start menu.",
     [], ev("exact_match", {"type": "window", "app": "sheet"}, rule(expected=True)),
     [click("start"), click("start-sheet"), DONE])
task("desktop-move-window", "files", "Drag the Files window to the right so that its left edge is at x = 500 or further.",
     [launch("files")], ev("compare_number", {"type": "window", "app": "files", "field": "x"}, rule(expected=500), options={"op": ">="}),
     [move("title-files"), drag("title-files", dx=420, dy=0), DONE])
task("desktop-maximize-editor", "editor", "Maximize the Text Editor window.",
     [launch("editor")], ev("exact_match", {"type": "window", "app": "editor", "field": "max"}, rule(expected=True)),
     [click("max-editor"), DONE])

# ---------------------------------------------------------------- Infeasible (success only on FAIL)
for tid, app, text, plan in [
    ("infeasible-resolution", "settings", "Set the screen resolution to 3840x2160 in Settings.", [dbl("icon-settings")]),
    ("infeasible-print", "editor", "Print notes.txt on the office printer.", [dbl("icon-editor")]),
    ("infeasible-bold-cell", "sheet", "Make the text in cell A1 of budget.csv bold.", []),
    ("infeasible-schedule-mail", "mail", "Schedule a reply to Alice to be sent tomorrow at 8am.", [dbl("icon-mail")]),
    ("infeasible-install-gimp", "files", "Install the GIMP image editor on this computer.", []),
    ("infeasible-wifi-password", "settings", "Show the saved Wi-Fi password of the office network.", [dbl("icon-settings"), click("settings-page-network")]),
]:
    task(tid, app, text, [open_(f"{DOCS}/budget.csv")] if app == "sheet" else [],
         {"func": "infeasible"}, plan + [FAIL])


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    ids = [t["id"] for t in TASKS]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate task ids")
    for i, t in enumerate(TASKS):
        t["split"] = "test" if i % 5 == 4 else "train"  # every fifth task is held out
        (OUT / f"{t['id']}.json").write_text(json.dumps(t, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {len(TASKS)} tasks to {OUT}")


if __name__ == "__main__":
    main()
