//! OS services of the myApps desktop app, behind traits, without a window: the settings
//! store ([`settings`]), the `tel:`/`sip:`/`im:` link parser ([`uri`]) and its
//! registration with the OS ([`register`]), autostart ([`autostart`]) and global hot keys
//! ([`hotkeys`]). The tao/wry
//! shell, tray, hot keys and notifications build on these (issue 6).

pub mod autostart;
pub mod hotkeys;
pub mod register;
pub mod settings;
pub mod uri;
