# myApps' eigene Oberfläche auf Deutsch (src/l10n.rs).

## Einstellungsfenster

settings-title = myApps-Einstellungen
settings-intro = Hotkeys (unter Linux), die Zeit bis „Offline erscheinen“, Trace-Flags, Klingeln im Headset und Autostart wirken sofort, alle anderen Einstellungen beim nächsten Start von myApps. Was Ihr PBX-Administrator festlegt, ist ausgegraut und kann hier nicht geändert werden.
settings-stored-in = Gespeichert in { $location }.
settings-forced-summary = Von Ihrem PBX-Administrator festgelegt: { $names }.
settings-save = Speichern
settings-saved = Gespeichert: { $names }.
settings-nothing-changed = Nichts geändert.
settings-not-saved = { $count ->
    [one] Nicht gespeichert: eine Einstellung muss korrigiert werden.
   *[other] Nicht gespeichert: { $count } Einstellungen müssen korrigiert werden.
}
settings-source-user = von Ihnen gesetzt
settings-source-machine = vom Installationsprogramm gesetzt
settings-source-pbx = von Ihrer PBX gesetzt
settings-source-default = Standard
settings-source-forced = von Ihrem PBX-Administrator festgelegt; hier nicht änderbar
settings-docking-none = keins
settings-docking-left = links
settings-docking-right = rechts

group-server = Server
group-platform = Plattformspezifische Einstellungen
group-installer = Installation (MSI-Parameter)
group-app = Diese App

setting-SERVER = PBX-Adresse
setting-SERVER-help = Der Hostname der PBX, bei Bedarf mit :Port, /PBX0-n (DynPBX-Modul) und #phys=Standort.
setting-AUTOSTART = Autostart
setting-AUTOSTART-help = myApps bei der Anmeldung starten.
setting-APPEAROFFLINE = Offline erscheinen nach (Minuten)
setting-APPEAROFFLINE-help = Die Leerlaufzeit, nach der Sie als inaktiv gelten; 0: nie.
setting-HOTKEYDIAL = Hotkey: markierte Nummer wählen
setting-HOTKEYDIAL-help = Ruft den markierten Text an, z. B. CTRL + ALT + F9.
setting-HOTKEYACCEPT = Hotkey: Anruf annehmen
setting-HOTKEYACCEPT-help = Nimmt den klingelnden Anruf an.
setting-HOTKEYREJECT = Hotkey: Anruf abweisen oder beenden
setting-HOTKEYREJECT-help = Weist den klingelnden Anruf ab oder beendet den laufenden.
setting-DOCKING = Andocken
setting-DOCKING-help = Andockmodus: links, rechts oder keins.
setting-NOTIFICATIONS = Desktop-Benachrichtigungen
setting-NOTIFICATIONS-help = Benachrichtigungen des Systems ein- oder ausschalten.
setting-EXCLUDEVPN = Medien außerhalb des VPN
setting-EXCLUDEVPN-help = VPN-Adressen nicht als ICE-Kandidaten verwenden.
setting-SHOWINTASKBAR = In der Taskleiste anzeigen
setting-SHOWINTASKBAR-help = myApps zusätzlich zum Tray-Symbol in der Taskleiste zeigen.
setting-LOGFLAGS = Log-Flags
setting-LOGFLAGS-help = Bestimmte Trace-Stufen ein- oder ausschalten, hexadezimal (App 0x1 … Signaling 0x800000000).
setting-EXTERNALAPPS = Externe Anwendungen
setting-EXTERNALAPPS-help = Die Anwendungen, die Apps für Anrufe starten dürfen (JSON, wie EXTERNALAPPS des Installationsprogramms).
setting-RINGINHEADSET = Im Headset klingeln
setting-RINGINHEADSET-help = Den Rufton ankommender Anrufe im Headset (dem Lautsprecher Ihrer Gespräche) statt im Lautsprecher spielen.
setting-DISABLELOCALHOST = 127.0.0.1 statt localhost
setting-DISABLELOCALHOST-help = Den lokalen Webserver als 127.0.0.1 ansprechen.
setting-EXCLUDEINTERFACES = Nicht für Medien genutzte Schnittstellen
setting-EXCLUDEINTERFACES-help = Kommagetrennte Adresspräfixe, für VPNs, die das System nicht als solche kennzeichnet.
setting-DISABLEHEADSETS = Headsets abschalten
setting-DISABLEHEADSETS-help = Tasten und Lampen von Headsets nicht verwenden (USB-Telefonie-Headsets: annehmen, auflegen, stumm).
setting-OFFICEPRESENCE = Präsenz in Microsoft Office
setting-OFFICEPRESENCE-help = Präsenz-Integration in Microsoft Office (Windows).
setting-FASTERDOWNLOADS = Schnellere Downloads
setting-FASTERDOWNLOADS-help = Update-Downloads nicht bremsen (sie werden gebremst, damit es in langsamen Netzen keine Tonaussetzer gibt).
setting-COUNTRYCODE = Eigene Landesvorwahl
setting-COUNTRYCODE-help = Für nationale und internationale Rufnummern und die Rückwärtssuche, wenn die PBX keine liefert, z. B. 49.
setting-AREACODE = Eigene Ortsvorwahl
setting-AREACODE-help = Ohne Verkehrsausscheidungsziffer, z. B. 7031.
setting-CONTACTSFOLDER = Kontaktordner
setting-CONTACTSFOLDER-help = Ein Ordner mit vCard-Dateien für das lokale Telefonbuch.
setting-WEBRTC = WebRTC im App-Fenster
setting-WEBRTC-help = Die Anrufe des Web-Clients über die Medien-Engine dieser App.
setting-USERAGENTTOKEN = User-Agent-Kennung
setting-USERAGENTTOKEN-help = Die Kennung der App im User-Agent ihrer Fenster, z. B. myApps (Linux).

## Tray-Menü

tray-show = myApps anzeigen
tray-settings = Einstellungen…
tray-autostart = Bei der Anmeldung starten
tray-taskbar = In der Taskleiste anzeigen
tray-trace-folder = Trace-Ordner öffnen
tray-quit = myApps beenden
tray-forced = { $label } (von Ihrer PBX festgelegt)

## Verbindungsformular

connect-title = myApps: mit Ihrer PBX verbinden
connect-heading = Mit Ihrer PBX verbinden
connect-intro = myApps braucht die Adresse Ihrer innovaphone PBX. Ihr Administrator kann sie Ihnen nennen.
connect-label = PBX-Adresse
connect-hint = Zum Beispiel pbx.example.com, pbx.example.com:4444, pbx.example.com/PBX0-1 oder pbx.example.com#phys=office.
connect-button = Verbinden
connect-demo-heading = Keine PBX zur Hand?
connect-demo-hint = Die Demo probiert Mikrofon, Lautsprecher und Ruftöne mit einem Echotest-Anruf aus.
connect-demo-button = Demo ausprobieren
connect-empty = Geben Sie die Adresse Ihrer PBX ein.
connect-checking = { $server } wird geprüft …
connect-certificate = Das Zertifikat des Servers:
connect-cert-subject = Inhaber
connect-cert-issuer = Aussteller
connect-cert-from = Gültig ab
connect-cert-until = Gültig bis
connect-error = Fehler
connect-invalid = Das ist keine PBX-Adresse
connect-dns = Der Name lässt sich nicht auflösen
connect-connect = Die PBX ist nicht erreichbar
connect-tls = Problem mit dem Zertifikat der PBX
connect-http = Die PBX hat mit einem Fehler geantwortet
connect-notMyApps = Das ist keine myApps-PBX
connect-ok = Verbunden

# Die Demo-Seite (assets/service/demo.html, demo.js).
demo-title = myApps-Demo
demo-intro = Probieren Sie Mikrofon, Lautsprecher und Klingeltöne ohne PBX aus. Der Echotest schickt Ihre Stimme durch zwei echte Medienkanäle und spielt sie zurück: Sie hören sich etwa eine Fünftelsekunde später.
demo-echo = Echotest
demo-microphone = Mikrofon
demo-speaker = Lautsprecher
demo-systemDefault = Systemstandard
demo-start = Echotest starten
demo-stop = Beenden
demo-stats = Gesprächsstatistik
demo-state = Zustand
demo-codec = Codec
demo-packets = Pakete gesendet / empfangen
demo-lost = Verloren
demo-delay = Verzögerung im Jitter-Puffer
demo-rtt = Umlaufzeit (RTCP)
demo-level = Echopegel
demo-ringtones = Klingeltöne
demo-ringtone = Klingelton
demo-ringer = Klingelgerät
demo-play = Abspielen
demo-default = {$name} (Standard)
demo-needsApp = Diese Seite braucht die myApps-App (myapps --demo) oder /demo.html#secret=… von `myapps --headless`.
demo-starting = Der Echotest startet …
demo-running = Der Echotest läuft: Sprechen Sie, und Sie hören sich selbst.
demo-channelError = Kanal {$channel}: {$error}
demo-failed = Der Echotest konnte nicht starten: {$error}
demo-inCall = myApps-Demo: Echotest
demo-stopped = Echotest beendet.
demo-noRingtones = Klingeltöne sind nicht verfügbar: {$error}
demo-ringing = Es klingelt: {$tone}
demo-cannotRing = Klingeln nicht möglich: {$error}
demo-ringStopped = Beendet.
