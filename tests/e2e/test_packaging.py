"""Packaging: `make install` (PREFIX, DESTDIR), `make deb` (contents,
control data, dependencies), the package's maintainer scripts run
against a temporary root with `dpkg --root`, and the systemd unit checked
by `systemd-analyze verify`."""

import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IS_ROOT = os.geteuid() == 0


def run(*args, check=True, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                    r.stdout, r.stderr))
    return r


def make(*targets):
    return run("make", "-s", "--no-print-directory", "-C", REPO, *targets)


def version():
    with open(os.path.join(REPO, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def arch():
    return run("dpkg", "--print-architecture").stdout.strip()


def unit_directives(text):
    """{key: [values]} of a unit file."""
    d = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            d.setdefault(k, []).append(v)
    return d


@unittest.skipIf(harness.ASAN, "the package is built from the release binary; "
                 "checked once, in the release pass")
class Deb(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        make("deb")
        cls.deb = os.path.join(REPO, "build", "deb",
                               "rmail_%s_%s.deb" % (version(), arch()))
        cls.tmp = tempfile.mkdtemp(prefix="rmail-e2e-deb-")
        cls.x = os.path.join(cls.tmp, "x")
        run("dpkg-deb", "-x", cls.deb, cls.x)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def test_contents(self):
        listing = run("dpkg-deb", "-c", self.deb).stdout.splitlines()
        files = {}
        for l in listing:
            f = l.split()
            files[f[-1]] = (f[0], f[1])
        want = {
            "./usr/sbin/rmail": "-rwxr-xr-x",
            "./lib/systemd/system/rmail.service": "-rw-r--r--",
            "./etc/rmail/rmail.json": "-rw-r--r--",
            "./usr/share/man/man8/rmail.8.gz": "-rw-r--r--",
            "./usr/share/man/man5/rmail.json.5.gz": "-rw-r--r--",
            "./usr/share/doc/rmail/README.md": "-rw-r--r--",
            "./usr/share/doc/rmail/docs/config.md": "-rw-r--r--",
            "./usr/share/doc/rmail/docs/operations.md": "-rw-r--r--",
            "./usr/share/doc/rmail/copyright": "-rw-r--r--",
            "./usr/share/doc/rmail/changelog.Debian.gz": "-rw-r--r--",
        }
        for path, mode in want.items():
            self.assertIn(path, files, "\n".join(listing))
            self.assertEqual(files[path], (mode, "root/root"), path)
        self.assertTrue(all(o == "root/root" for _, o in files.values()))
        # Nothing under the data directory: the package never owns mail.
        self.assertFalse([p for p in files if p.startswith("./var/")])

    def test_control(self):
        info = run("dpkg-deb", "-I", self.deb).stdout
        f = lambda k: run("dpkg-deb", "-f", self.deb, k).stdout.strip()
        self.assertEqual(f("Package"), "rmail")
        self.assertEqual(f("Version"), version())
        self.assertEqual(f("Architecture"), arch())
        self.assertRegex(info, r"\d+ bytes,\s+\d+ lines\s+\*\s+postinst")
        self.assertRegex(info, r"\d+ bytes,\s+\d+ lines\s+\*\s+postrm")
        self.assertRegex(info, r"\d+ bytes,\s+\d+ lines\s+\*\s+prerm")
        ctl = os.path.join(self.tmp, "ctl")
        run("dpkg-deb", "-e", self.deb, ctl)
        with open(os.path.join(ctl, "conffiles")) as fh:
            self.assertEqual(fh.read().split(), ["/etc/rmail/rmail.json"])
        # Every file's checksum is listed and right.
        r = run("md5sum", "-c", os.path.join(ctl, "md5sums"), cwd=self.x)
        self.assertIn("usr/sbin/rmail: OK", r.stdout)

    def test_depends_cover_every_shared_library(self):
        binary = os.path.join(self.x, "usr", "sbin", "rmail")
        depends = run("dpkg-deb", "-f", self.deb, "Depends").stdout
        pkgs = {d.strip().split()[0] for d in depends.split(",")}
        libs = re.findall(r"=> (\S+) \(", run("ldd", binary).stdout)
        self.assertTrue(libs)
        for lib in libs:
            owners = None
            for p in (lib, os.path.realpath(lib),
                      lib.replace("/usr/lib/", "/lib/", 1),
                      lib.replace("/lib/", "/usr/lib/", 1)):
                r = run("dpkg", "-S", p, check=False)
                if r.returncode == 0:
                    owners = {o.split(":")[0] for o in r.stdout.split(", ")}
                    break
            self.assertIsNotNone(owners, "no package owns %s" % lib)
            self.assertTrue(owners & pkgs, "%s (from %s) not in Depends: %s"
                            % (lib, owners, depends))

    def test_binary_and_docs_work(self):
        r = run(os.path.join(self.x, "usr", "sbin", "rmail"), "version")
        self.assertIn(version(), r.stdout)
        for page, sect in (("rmail.8.gz", "8"), ("rmail.json.5.gz", "5")):
            path = os.path.join(self.x, "usr", "share", "man", "man" + sect, page)
            with gzip.open(path, "rt") as fh:
                text = fh.read()
            self.assertRegex(text, r'(?m)^\.TH "?%s"? "?%s"?'
                             % (re.escape(page[:-5].upper()), sect))
        with open(os.path.join(self.x, "etc", "rmail", "rmail.json")) as fh:
            self.assertTrue(json.load(fh)["sample"])

    def test_unit(self):
        path = os.path.join(self.x, "lib", "systemd", "system", "rmail.service")
        with open(path) as fh:
            text = fh.read()
        d = unit_directives(text)
        want = {
            "Type": "notify", "User": "rmail",
            "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict",
            "ReadWritePaths": "/var/lib/rmail", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
            "MemoryDenyWriteExecute": "yes",
            "ExecStart": "/usr/sbin/rmail serve -c /etc/rmail/rmail.json",
            "ExecReload": "/bin/kill -HUP $MAINPID",
        }
        for k, v in want.items():
            self.assertIn(v, d.get(k, []), k)
        self.assertIn("@system-service", d["SystemCallFilter"])
        # Two descriptors per connection at the default limit, and then some.
        self.assertGreaterEqual(int(d["LimitNOFILE"][0]), 2 * 2000)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_analyze_verify(self):
        # verify checks that ExecStart exists: point it at the unpacked
        # binary; everything else is the unit as shipped.
        with open(os.path.join(self.x, "lib/systemd/system/rmail.service")) as fh:
            text = fh.read()
        d = os.path.join(self.tmp, "unit")
        os.makedirs(d, exist_ok=True)
        unit = os.path.join(d, "rmail.service")
        with open(unit, "w") as fh:
            fh.write(text.replace("/usr/sbin/rmail", os.path.join(self.x, "usr/sbin/rmail")))
        r = run("systemd-analyze", "verify", "--man=no", unit, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Not a single warning (an unknown or misspelt directive is one).
        self.assertEqual(r.stderr.strip(), "", r.stderr)
        r = run("systemd-analyze", "security", "--offline=yes", "--root=" + self.x,
                "rmail.service", check=False)
        m = re.search(r"Overall exposure level for rmail.service: ([\d.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print("\n    systemd-analyze security: exposure %s" % m.group(1))
        self.assertLess(float(m.group(1)), 3.0)


@unittest.skipIf(harness.ASAN, "the package is built from the release binary")
@unittest.skipUnless(IS_ROOT, "dpkg --root needs root (CI runs as root)")
class DpkgRoot(unittest.TestCase):
    """The .deb installed, upgraded, removed and purged in a temporary root
    (dpkg --root with --force-script-chrootless runs the maintainer scripts
    on the host with DPKG_ROOT set)."""

    def setUp(self):
        make("deb")
        self.deb = os.path.join(REPO, "build", "deb",
                                "rmail_%s_%s.deb" % (version(), arch()))
        self.root = tempfile.mkdtemp(prefix="rmail-e2e-root-")
        self.addCleanup(shutil.rmtree, self.root, True)
        r = self.root
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"):
            os.makedirs(os.path.join(r, d))
        for f, text, mode in (
                ("var/lib/dpkg/status", "", 0o644),
                ("var/lib/dpkg/available", "", 0o644),
                ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
                ("etc/group", "root:x:0:\n", 0o644),
                ("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640),
                ("etc/gshadow", "root:*::\n", 0o640)):
            with open(os.path.join(r, f), "w") as fh:
                fh.write(text)
            os.chmod(os.path.join(r, f), mode)

    def dpkg(self, *args):
        return run("dpkg", "--root=" + self.root, "--force-script-chrootless",
                   "--force-depends", "--log=/dev/null", *args)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def account(self):
        with open(self.path("/etc/passwd")) as fh:
            for line in fh:
                f = line.rstrip("\n").split(":")
                if f[0] == "rmail":
                    return f
        return None

    def test_install_upgrade_remove_purge(self):
        r = self.dpkg("-i", self.deb)
        self.assertIn("rmail init", r.stdout)
        acct = self.account()
        self.assertIsNotNone(acct, "no rmail user in the root's /etc/passwd")
        self.assertEqual(acct[5:], ["/var/lib/rmail", "/usr/sbin/nologin"])
        self.assertLess(int(acct[2]), 1000, "not a system account")
        with open(self.path("/etc/group")) as fh:
            self.assertIn("rmail:x:%s:" % acct[3], fh.read())
        st = os.stat(self.path("/var/lib/rmail"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                         (int(acct[2]), int(acct[3]), 0o750))
        rmail = self.path("/usr/sbin/rmail")
        self.assertIn(version(), run(rmail, "version").stdout)
        # The sample config is refused until `rmail init` replaces it.
        conf = self.path("/etc/rmail/rmail.json")
        r = run(rmail, "check-config", "-c", conf, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("sample config", r.stderr)
        r = run(rmail, "init", "-c", conf, "--data-dir", self.path("/var/lib/rmail"),
                "--domain", "example.test", "--hostname", "mail.example.test",
                "--listen", "127.0.0.1", "--port-base", str(harness.pick_port_base()),
                "--non-interactive")
        mail = self.path("/var/lib/rmail/mail/example.test/someone/1.eml")
        os.makedirs(os.path.dirname(mail))
        with open(mail, "w") as fh:
            fh.write("Subject: keep me\r\n\r\nmail\r\n")
        with open(conf) as fh:
            mine = fh.read()

        # Upgrade (the same version again), keeping the admin's config.
        self.dpkg("--force-confold", "-i", self.deb)
        with open(conf) as fh:
            self.assertEqual(fh.read(), mine)
        self.assertEqual(len([l for l in open(self.path("/etc/passwd")) if l.startswith("rmail:")]), 1)

        # Remove: the program goes, the config and the mail stay.
        self.dpkg("-r", "rmail")
        self.assertFalse(os.path.exists(rmail))
        self.assertFalse(os.path.exists(self.path("/lib/systemd/system/rmail.service")))
        self.assertTrue(os.path.exists(conf))
        self.assertTrue(os.path.exists(mail))

        # Purge: the config goes, the mail never; purge says where it is.
        r = self.dpkg("-P", "rmail")
        self.assertFalse(os.path.exists(self.path("/etc/rmail")))
        self.assertTrue(os.path.exists(mail))
        with open(mail) as fh:
            self.assertIn("keep me", fh.read())
        self.assertIn("/var/lib/rmail", r.stdout)
        self.assertIsNotNone(self.account(), "the account is kept: files still belong to it")


@unittest.skipIf(harness.ASAN, "installs the release binary")
class MakeInstall(unittest.TestCase):

    def test_prefix_and_destdir(self):
        dest = tempfile.mkdtemp(prefix="rmail-e2e-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        os.makedirs(os.path.join(dest, "etc", "rmail"))
        with open(os.path.join(dest, "etc", "rmail", "rmail.json"), "w") as fh:
            fh.write("mine\n")
        make("install", "DESTDIR=" + dest, "PREFIX=/opt/rmail")
        for p in ("opt/rmail/sbin/rmail", "opt/rmail/share/man/man8/rmail.8",
                  "opt/rmail/share/man/man5/rmail.json.5",
                  "opt/rmail/share/doc/rmail/README.md",
                  "opt/rmail/share/doc/rmail/docs/config.md",
                  "opt/rmail/lib/systemd/system/rmail.service"):
            self.assertTrue(os.path.isfile(os.path.join(dest, p)), p)
        self.assertTrue(os.access(os.path.join(dest, "opt/rmail/sbin/rmail"), os.X_OK))
        with open(os.path.join(dest, "opt/rmail/lib/systemd/system/rmail.service")) as fh:
            self.assertIn("ExecStart=/opt/rmail/sbin/rmail serve", fh.read())
        # An existing config is never overwritten.
        with open(os.path.join(dest, "etc", "rmail", "rmail.json")) as fh:
            self.assertEqual(fh.read(), "mine\n")
        # Nothing outside DESTDIR.
        self.assertEqual(sorted(os.listdir(dest)), ["etc", "opt"])


if __name__ == "__main__":
    unittest.main()
