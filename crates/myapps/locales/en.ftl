# myApps' own UI in English (src/l10n.rs). Setting labels and help follow the reference
# page's wording ("Platform specific settings", "MSI parameters", "Server configuration").

## Settings window

settings-title = myApps settings
settings-intro = Hot keys (on Linux), the appear-offline time, trace flags, ring in headset and autostart apply at once; the other settings the next time myApps starts. A setting your PBX administrator forces is shown greyed out and cannot be changed here.
settings-stored-in = Stored in { $location }.
settings-forced-summary = Set by your PBX administrator: { $names }.
settings-save = Save
settings-saved = Saved: { $names }.
settings-nothing-changed = Nothing changed.
settings-not-saved = { $count ->
    [one] Not saved: one setting needs a fix.
   *[other] Not saved: { $count } settings need a fix.
}
settings-source-user = set by you
settings-source-machine = set by the installer
settings-source-pbx = set by your PBX
settings-source-default = default
settings-source-forced = set by your PBX administrator; it cannot be changed here
settings-docking-none = none
settings-docking-left = left
settings-docking-right = right

group-server = Server
group-platform = Platform specific settings
group-installer = Installation (MSI parameters)
group-app = This app

setting-SERVER = PBX address
setting-SERVER-help = The PBX's host name, with :port, /PBX0-n (DynPBX module) and #phys=location where needed.
setting-AUTOSTART = Autostart
setting-AUTOSTART-help = Launch myApps on login.
setting-APPEAROFFLINE = Appear offline after (minutes)
setting-APPEAROFFLINE-help = The idle time after which you are considered inactive; 0: never.
setting-HOTKEYDIAL = Hot key: dial selected number
setting-HOTKEYDIAL-help = Calls the selected text, e.g. CTRL + ALT + F9.
setting-HOTKEYACCEPT = Hot key: accept call
setting-HOTKEYACCEPT-help = Accepts the alerting call.
setting-HOTKEYREJECT = Hot key: reject or disconnect call
setting-HOTKEYREJECT-help = Rejects the alerting call or disconnects the active one.
setting-DOCKING = Docking
setting-DOCKING-help = Docking mode: left, right or none.
setting-NOTIFICATIONS = Desktop notifications
setting-NOTIFICATIONS-help = Turn platform notifications on or off.
setting-EXCLUDEVPN = Media outside VPN
setting-EXCLUDEVPN-help = Leave VPN addresses out of ICE candidate selection.
setting-SHOWINTASKBAR = Show in taskbar
setting-SHOWINTASKBAR-help = Show myApps in the taskbar in addition to its tray icon.
setting-LOGFLAGS = Log flags
setting-LOGFLAGS-help = Turn certain trace levels on or off, in hex (App 0x1 … Signaling 0x800000000).
setting-EXTERNALAPPS = External applications
setting-EXTERNALAPPS-help = The applications apps may start for calls (JSON, as the installer's EXTERNALAPPS).
setting-RINGINHEADSET = Ring in headset
setting-RINGINHEADSET-help = Send the ring tone of incoming calls to the headset (the speaker your calls use) instead of the loudspeaker.
setting-DISABLELOCALHOST = Use 127.0.0.1 instead of localhost
setting-DISABLELOCALHOST-help = Address the local web server as 127.0.0.1.
setting-EXCLUDEINTERFACES = Interfaces not used for media
setting-EXCLUDEINTERFACES-help = Comma-separated address prefixes, for VPNs the OS does not mark as such.
setting-DISABLEHEADSETS = Disable headsets
setting-DISABLEHEADSETS-help = Leave headset buttons and lights alone (USB telephony headsets: answer, hang up, mute).
setting-OFFICEPRESENCE = Presence in Microsoft Office
setting-OFFICEPRESENCE-help = Presence integration in Microsoft Office (Windows).
setting-FASTERDOWNLOADS = Faster downloads
setting-FASTERDOWNLOADS-help = Do not slow update downloads down (they are slowed to avoid audio lags on slow networks).
setting-COUNTRYCODE = Own country code
setting-COUNTRYCODE-help = For national and international number forms and reverse lookup when the PBX gives none, e.g. 49.
setting-AREACODE = Own area code
setting-AREACODE-help = Without the trunk prefix, e.g. 7031.
setting-CONTACTSFOLDER = Contacts folder
setting-CONTACTSFOLDER-help = A folder of vCard files for the local phone book.
setting-WEBRTC = WebRTC in the app window
setting-WEBRTC-help = The web client's calls through this app's media engine.
setting-USERAGENTTOKEN = User agent token
setting-USERAGENTTOKEN-help = The app's token in its windows' user agent, e.g. myApps (Linux).

## Tray menu

tray-show = Show myApps
tray-settings = Settings…
tray-autostart = Start on login
tray-taskbar = Show in taskbar
tray-trace-folder = Open trace folder
tray-quit = Quit myApps
tray-forced = { $label } (set by your PBX)

## Connect form

connect-title = myApps: connect to your PBX
connect-heading = Connect to your PBX
connect-intro = myApps needs the address of your innovaphone PBX. Your administrator can tell you.
connect-label = PBX address
connect-hint = For example pbx.example.com, pbx.example.com:4444, pbx.example.com/PBX0-1 or pbx.example.com#phys=office.
connect-button = Connect
connect-demo-heading = No PBX at hand?
connect-demo-hint = The demo tries your microphone, speaker and ringtones with an echo-test call.
connect-demo-button = Try the demo
connect-empty = Enter the address of your PBX.
connect-checking = Checking { $server } …
connect-certificate = The server's certificate:
connect-cert-subject = Subject
connect-cert-issuer = Issuer
connect-cert-from = Valid from
connect-cert-until = Valid until
connect-error = Error
connect-invalid = This is not a PBX address
connect-dns = The name does not resolve
connect-connect = The PBX cannot be reached
connect-tls = Problem with the PBX's certificate
connect-http = The PBX answered with an error
connect-notMyApps = This is not a myApps PBX
connect-ok = Connected

# The demo page (assets/service/demo.html, demo.js; `{$name}` filled by the page).
demo-title = myApps demo
demo-intro = Try your microphone, speaker and ringtones without a PBX. The echo test sends your voice through two real media channels and plays it back: you should hear yourself about a fifth of a second later.
demo-echo = Echo test
demo-microphone = Microphone
demo-speaker = Speaker
demo-systemDefault = System default
demo-start = Start echo test
demo-stop = Stop
demo-stats = Call statistics
demo-state = State
demo-codec = Codec
demo-packets = Packets sent / received
demo-lost = Lost
demo-delay = Jitter buffer delay
demo-rtt = Round-trip time (RTCP)
demo-level = Echo level
demo-ringtones = Ringtones
demo-ringtone = Ringtone
demo-ringer = Ringing device
demo-play = Play
demo-default = {$name} (default)
demo-needsApp = This page needs the myApps app (myapps --demo), or /demo.html#secret=… from `myapps --headless`.
demo-starting = Starting the echo test…
demo-running = Echo test running: speak, and you hear yourself.
demo-channelError = Channel {$channel}: {$error}
demo-failed = The echo test could not start: {$error}
demo-inCall = myApps demo: echo test
demo-stopped = Echo test stopped.
demo-noRingtones = Ringtones are not available: {$error}
demo-ringing = Ringing: {$tone}
demo-cannotRing = Cannot ring: {$error}
demo-ringStopped = Stopped.
