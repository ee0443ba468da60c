"""The one-command demo behind `python3 dev.py run` (run with the venv's python):

1. a local sync server (`sync-server serve`) on an embedded SQLite database in ./demo/server;
2. a demo school and a dashboard staff user (credentials printed, kept in ./demo/demo.json);
3. a client data folder ./demo/client enrolled against it (the client's own enroll path, in-process);
4. realistic records in Chinese: a monthly safety inspection with an open and an overdue hazard, a routine
   inspection that the bureau returns for correction (through the server's review service), and a draft;
5. the dashboard URL printed, and the client window opened (without a display: said so, the server keeps running).

Ctrl+C stops everything. A second run reuses ./demo (same port, same user, no duplicate records).
`--setup-only` does steps 1-4, prints one JSON line and stops the server (the test uses it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

DEFAULT_PORT = 8700
SCHOOL_CODE = "DEMO001"
SCHOOL_NAME = "城关镇中心小学（演示）"
USERNAME = "demo-admin"
REVIEWER = "县教育局 安全办 王科长"
STATE_FILE = "demo.json"


def say(text: str) -> None:
    print(text, flush=True)


def say_error(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port_after(port: int) -> int:
    """The first port after `port` that nothing listens on here (for the hint when `port` is taken)."""
    for candidate in range(port + 1, min(port + 200, 65536)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    return port + 1


class Demo:
    def __init__(self, folder: Path, port: int | None) -> None:
        self.folder = folder.resolve()
        self.instance = self.folder / "server"
        self.client_dir = self.folder / "client"
        self.state_path = self.folder / STATE_FILE
        self.state: dict[str, Any] = {}
        if self.state_path.is_file():
            self.state = json.loads(self.state_path.read_text(encoding="utf-8"))
        self.port = port if port is not None else int(self.state.get("port", DEFAULT_PORT))
        self.server: subprocess.Popen[str] | None = None
        self.url = ""

    # -- the server --------------------------------------------------------------------------------

    def sync_server(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        """Run one `sync-server` command on the demo instance; its --json result."""
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sync_server",
                *args,
                "--instance",
                str(self.instance),
                "--json",
            ],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=self._env(),
        )
        lines = proc.stdout.strip().splitlines()
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        if proc.returncode != 0:
            result.setdefault("error", {"message_en": proc.stderr.strip()})
        return result

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("SYNC_SERVER_DB", None)  # the demo's database is the embedded one in ./demo/server
        env["PYTHONIOENCODING"] = "utf-8"
        return env

    def start_server(self) -> None:
        self.instance.mkdir(parents=True, exist_ok=True)
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync_server",
                "serve",
                "--instance",
                str(self.instance),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=self._env(),
        )
        assert self.server.stdout is not None
        answer: dict[str, Any] = {}
        for line in self.server.stdout:  # one JSON line: the URL once it listens, or why it cannot
            if line.startswith("{"):
                answer = json.loads(line)
                break
        self.url = str(answer.get("url") or "")
        if not self.url:
            err = self.server.stderr.read() if self.server.stderr else ""
            self.server.wait()
            error = answer.get("error") or {}
            if error.get("code") == "cannot_listen":
                free = free_port_after(self.port)
                say_error(
                    f"端口 {self.port} 已被占用（也许另一个演示或程序正在使用它），同步服务器没有启动。"
                    f"请换一个端口：python3 dev.py run --port {free}\n"
                    f"port {self.port} is taken (another demo or program may be using it); the sync "
                    f"server did not start. Use another port: python3 dev.py run --port {free}"
                )
                raise SystemExit(2)
            reason = error.get("message_zh") or err.strip() or "?"
            say_error(
                f"同步服务器没有启动（端口 {self.port}）：{reason}\n"
                f"the sync server did not start (port {self.port}): "
                f"{error.get('message_en') or err.strip() or '?'}"
            )
            raise SystemExit(2)
        self.port = int(self.url.rsplit(":", 1)[1])
        for _ in range(50):
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).json().get("status") == "ok":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"同步服务器没有应答 / the sync server does not answer at {self.url}")

    def stop(self, proc: subprocess.Popen[Any] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # -- set-up ------------------------------------------------------------------------------------

    def ensure_user(self) -> None:
        if self.state.get("username"):
            return
        password = "Demo-" + secrets.token_urlsafe(9)
        result = self.sync_server(
            "add-user",
            "--username",
            USERNAME,
            "--role",
            "admin",
            "--ethics",
            "--password-stdin",
            stdin=password + "\n",
        )
        if "error" in result:
            code = result["error"].get("code")
            if code == "user_exists":  # made by an earlier run whose demo.json was lost
                say(
                    f"用户 {USERNAME} 已存在，沿用原密码 / user {USERNAME} exists; its password is unchanged"
                )
                password = "(见上次运行 / see the earlier run)"
            else:
                raise SystemExit(f"无法添加演示用户 / cannot add the demo user: {result['error']}")
        self.state.update(username=USERNAME, password=password)

    def ensure_enrolled(self) -> None:
        from client.context import ClientContext
        from client.store import sync_state as S
        from client.sync.commands import enroll_command

        ctx = ClientContext.open(self.client_dir)
        try:
            with ctx.store.Session() as s:
                status = S.sync_status(s)
            if status.enrolled and status.server_url == self.url:
                return
            made = self.sync_server("add-school", "--code", SCHOOL_CODE, "--name", SCHOOL_NAME)
            if "error" in made:
                raise SystemExit(f"无法添加演示学校 / cannot add the demo school: {made['error']}")
            code = made["enrollment_code"]
            if enroll_command(ctx, self.url, code, device_name="演示电脑") != 0:
                raise SystemExit("演示客户端注册失败 / the demo client could not enroll")
        finally:
            ctx.close()

    def seed(self) -> None:
        """The demo records, once: saved and submitted on the client, synced, one returned by the bureau."""
        if self.state.get("seeded"):
            self.sync_client()  # bring the client up to date with whatever happened on the server
            return
        from client.context import ClientContext
        from client.store.records import save_record

        ctx = ClientContext.open(self.client_dir)
        try:
            today, now = ctx.clock.today(), ctx.clock.now()
            form = ctx.forms.get("safety_inspection")

            def day(delta: int) -> str:
                return (today + dt.timedelta(days=delta)).isoformat()

            monthly = {
                "inspection_date": day(-20),
                "inspection_type": "monthly",
                "inspectors": "张建国、李秀英",
                "areas": ["teaching_building", "dormitory", "electrical", "fire_equipment"],
                "hazards_found": "yes",
                "hazards": [
                    {
                        "category": "electrical",
                        "location": "学生宿舍二楼 203 室",
                        "description": "学生私拉电线给手机充电，插线板放在床铺上",
                        "severity": "major",
                        "measures": "拆除私拉电线，宿舍统一安装带保护的充电柜，班主任每周检查",
                        "responsible_person": "刘德明（后勤主任）",
                        "deadline": day(-5),  # passed: overdue
                        "status": "in_progress",
                    },
                    {
                        "category": "fire",
                        "location": "教学楼三楼东侧楼梯口",
                        "description": "消防栓水带缺失，灭火器压力不足",
                        "severity": "general",
                        "measures": "补齐水带，更换灭火器，登记巡检表",
                        "responsible_person": "陈志强（安全员）",
                        "deadline": day(10),  # still open, not yet due
                        "status": "open",
                    },
                ],
                "signed_by": "王丽华（校长）",
                "remarks": "已向镇中心校报告宿舍用电问题",
            }
            routine = {
                "inspection_date": day(-3),
                "inspection_type": "routine",
                "inspectors": "张建国",
                "areas": ["canteen", "gate"],
                "hazards_found": "no",
                "signed_by": "王丽华（校长）",
            }
            draft = {
                "inspection_date": day(0),
                "inspection_type": "pre_holiday",
                "inspectors": "李秀英",
                "areas": ["school_bus"],
            }
            ids: dict[str, str] = {}
            for name, data, submit in (
                ("monthly", monthly, True),
                ("routine", routine, True),
                ("draft", draft, False),
            ):
                with ctx.store.Session.begin() as s:
                    saved = save_record(
                        s, form=form, data=data, submit=submit, today=today, now=now
                    )
                ids[name] = saved.record_id
        finally:
            ctx.close()
        self.sync_client()
        self.return_record(
            ids["routine"],
            {
                "inspectors": "排查人员至少两人，请补全姓名",
                "_record": "食堂排查请附上留样记录检查情况，修改后重新提交",
            },
        )
        self.sync_client()
        self.state.update(seeded=True, records=ids)

    def return_record(self, record_id: str, comments: dict[str, str]) -> None:
        """The bureau returns a record for correction: the server's review service, on the demo database."""
        from sync_server.config import default_database_url
        from sync_server.db import open_database
        from sync_server.services.review import return_record

        db = open_database(default_database_url(self.instance))
        try:
            with db.Session.begin() as session:
                return_record(session, record_id, comments, REVIEWER)
        finally:
            db.close()

    def sync_client(self) -> int:
        from client.context import ClientContext
        from client.sync.commands import sync_command

        ctx = ClientContext.open(self.client_dir)
        try:
            return sync_command(ctx)
        finally:
            ctx.close()

    def save_state(self) -> None:
        self.state["port"] = self.port
        self.state_path.write_text(
            json.dumps(self.state, ensure_ascii=False, indent=2), encoding="utf-8"
        )

    def summary(self) -> dict[str, Any]:
        import contextlib

        from client.store.db import connect
        from client.store.keys import load_key

        # the store is encrypted with the client folder's key (client.store.keys)
        store = self.client_dir / "store.db"
        key = load_key(self.client_dir)
        with contextlib.closing(connect(store, key)) as db:
            counts = dict(
                db.execute("SELECT status, count(*) FROM records GROUP BY status").fetchall()
            )
        health = requests.get(f"{self.url}/healthz", timeout=5).json()
        return {
            "url": self.url,
            "dashboard": f"{self.url}/",
            "username": self.state.get("username"),
            "password": self.state.get("password"),
            "school": SCHOOL_CODE,
            "client_data_dir": str(self.client_dir),
            "client_records": counts,
            "healthz": health,
            "recovery_code": key.recovery_code if key is not None else None,
        }

    def prepare_first_window(self) -> None:
        """The demo prints the client's recovery code with the facts above (the clerk's enroll command
        does the same), so the window does not stop the demo's user with the recovery-code dialog; and the
        folder says its language, so the window opens at once instead of the small 正在打开… box first."""
        from client.store.keys import mark_recovery_shown
        from client.ui.app import remember_language, remembered_language
        from client.ui.lang import DEFAULT_LANGUAGE

        mark_recovery_shown(self.client_dir)
        if remembered_language(self.client_dir) is None:
            remember_language(self.client_dir, DEFAULT_LANGUAGE)


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # main's finally stops the client and the server


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="启动演示 / run the demo")
    parser.add_argument("--demo-dir", default=str(ROOT / "demo"), help="the demo folder (./demo)")
    parser.add_argument(
        "--port", type=int, default=None, help=f"server port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--setup-only", action="store_true", help="set up, print JSON, stop")
    parser.add_argument("--no-client", action="store_true", help="do not open the client window")
    args = parser.parse_args(argv)

    demo = Demo(Path(args.demo_dir), args.port)
    demo.folder.mkdir(parents=True, exist_ok=True)
    client: subprocess.Popen[Any] | None = None
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # as Ctrl+C: the server and the window stop too
    try:
        demo.ensure_user()  # before the server starts: one writer at a time on a fresh database
        demo.start_server()
        demo.ensure_enrolled()
        demo.seed()
        demo.save_state()
        info = demo.summary()
        demo.prepare_first_window()
        if args.setup_only:
            print(json.dumps(info, ensure_ascii=False), flush=True)
            return 0
        say("")
        say(f"教育局管理后台 / dashboard:   {info['dashboard']}")
        say(f"用户名 / username:            {info['username']}")
        say(f"密码 / password:              {info['password']}")
        say(f"学校 / school:                {SCHOOL_CODE} {SCHOOL_NAME}")
        say(f"客户端数据 / client data:     {info['client_data_dir']}")
        if info.get("recovery_code"):
            say(f"客户端恢复码 / recovery code: {info['recovery_code']}")
        say(
            f"演示数据在 / demo folder:     {demo.folder}  (删除它即可重新开始 / delete it to start over)"
        )
        if args.no_client:
            pass
        elif not has_display():
            say(
                "没有图形显示（未设置 DISPLAY/WAYLAND_DISPLAY），不打开客户端窗口；服务器继续运行。"
            )
            say(
                "No display (DISPLAY/WAYLAND_DISPLAY unset): the client window is not opened; the server keeps running."
            )
        else:
            say("正在打开学校客户端 / opening the school client ...")
            client = subprocess.Popen(
                [sys.executable, "-m", "client.cli", "--data-dir", str(demo.client_dir)],
                cwd=ROOT,
            )
        say("按 Ctrl+C 停止 / press Ctrl+C to stop")
        closed_said = False
        while demo.server is not None and demo.server.poll() is None:
            if client is not None and client.poll() is not None and not closed_said:
                say("客户端已关闭，服务器仍在运行 / the client closed; the server keeps running")
                closed_said = True
            time.sleep(0.5)
        say("同步服务器已退出 / the sync server stopped")
        return 1
    except KeyboardInterrupt:
        say("\n正在停止 / stopping ...")
        return 0
    finally:
        demo.stop(client)
        demo.stop(demo.server)


if __name__ == "__main__":
    sys.exit(main())
