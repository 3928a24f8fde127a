"""SDK 2.2: a plugin's settings per profile (the config file) and its secrets (keyring or file)."""

from __future__ import annotations

import stat

from egactl import paths
from egactl.plugin.cli import plugin_config


def test_a_plugin_table_lives_in_its_profile_and_config_commands_still_work(cli):
    assert cli("config", "set", "institution", "RITA", "-p", "prod").exit_code == 0
    plugin_config.save("esb", "prod", {"client_id": "rita-crvs", "token_url": "https://esb.example/oauth/token",
                                       "unset": None})
    assert plugin_config.load("esb", "prod") == {"client_id": "rita-crvs",
                                                 "token_url": "https://esb.example/oauth/token"}
    assert plugin_config.load("esb", "sandbox") == {}
    text = paths.config_file().read_text()
    assert "[profiles.prod.plugins.esb]" in text
    assert stat.S_IMODE(paths.config_file().stat().st_mode) == 0o600
    # the core's config commands carry the nested table along untouched
    for args in (("config", "set", "output", "json", "-p", "prod"), ("config", "unset", "institution", "-p", "prod"),
                 ("config", "use", "prod"), ("config", "list"), ("config", "profiles"), ("config", "get", "output")):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.stderr)
    assert plugin_config.load("esb", "prod")["client_id"] == "rita-crvs"
    plugin_config.save("esb", "prod", {})
    assert "plugins" not in paths.config_file().read_text()


def test_a_plugin_secret_is_kept_per_profile_in_the_owner_only_file_and_the_environment_wins(monkeypatch):
    where, fallback = plugin_config.store_secret("esb", "prod", "client_secret", "s3cr3t-prod")
    assert fallback and where.endswith("credentials.toml")
    plugin_config.store_secret("esb", "test", "client_secret", "s3cr3t-test")
    found = plugin_config.get_secret("esb", "prod", "client_secret")
    assert (found.value, found.source.startswith("file ")) == ("s3cr3t-prod", True)
    assert "s3cr3t" not in repr(found)
    assert plugin_config.get_secret("esb", "test", "client_secret").value == "s3cr3t-test"
    assert stat.S_IMODE((paths.config_dir() / "credentials.toml").stat().st_mode) == 0o600
    assert "s3cr3t" not in paths.config_file().read_text() if paths.config_file().exists() else True
    monkeypatch.setenv("EGACTL_ESB_CLIENT_SECRET", "from-env")
    assert (plugin_config.get_secret("esb", "prod", "client_secret").value,
            plugin_config.get_secret("esb", "prod", "client_secret").source) == ("from-env", "env EGACTL_ESB_CLIENT_SECRET")
    monkeypatch.delenv("EGACTL_ESB_CLIENT_SECRET")
    assert plugin_config.delete_secret("esb", "prod", "client_secret") is True
    assert plugin_config.get_secret("esb", "prod", "client_secret") is None
    assert plugin_config.get_secret("esb", "test", "client_secret").value == "s3cr3t-test"


def test_a_plugin_secret_goes_to_the_keyring_when_one_is_usable(monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        store: dict = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    monkeypatch.setenv("EGACTL_CREDENTIAL_STORE", "keyring")
    try:
        where, fallback = plugin_config.store_secret("esb", "prod", "private_key", "MIGEAgEAMBAG")
        assert (where, fallback) == ("the system keyring", False)
        assert "MIGEAgEAMBAG" not in (paths.config_dir() / "credentials.toml").read_text()
        assert Memory.store[("egactl", "secret:prod/esb/private_key")] == "MIGEAgEAMBAG"
        assert plugin_config.get_secret("esb", "prod", "private_key").value == "MIGEAgEAMBAG"
        assert plugin_config.delete_secret("esb", "prod", "private_key")
        assert Memory.store == {}
    finally:
        keyring.set_keyring(previous)
