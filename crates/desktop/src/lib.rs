//! OS services of the myApps desktop app, behind traits, without a window: the settings
//! store ([`settings`]), the PBX address rules ([`server`]), the `tel:`/`sip:`/`im:` link
//! parser ([`uri`]) and its registration with the OS ([`register`]), single instance
//! ([`instance`]), autostart ([`autostart`]), global hot keys ([`hotkeys`]), desktop
//! notifications ([`notify`]) and the user's idle time ([`idle`]). The tao/wry shell and
//! tray build on these.

pub mod autostart;
pub mod external_apps;
pub mod hotkeys;
pub mod idle;
pub mod instance;
pub mod notify;
pub mod phone_number;
pub mod phonebook;
pub mod register;
pub mod server;
pub mod settings;
pub mod uri;
