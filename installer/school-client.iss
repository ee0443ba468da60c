; Inno Setup script for the school client (docs/build-windows.md).
;   1. pyinstaller --noconfirm build.spec           -> dist\school-client\
;   2. iscc /DAppVersion=0.1.0 installer\school-client.iss  -> dist\installer\school-client-setup-0.1.0.exe
;
; Per-user install without administrator rights (PrivilegesRequired=lowest): %LOCALAPPDATA%\Programs\SchoolClient.
; Upgrade in place: the AppId below never changes; a newer setup replaces the program files and keeps settings.
; Automatic updates (docs/updates.md section 4) swap {app} for a new version folder without this setup; they carry
; unins000.exe/.dat over and set the uninstall entry's DisplayVersion (HKCU ...\Uninstall\{AppId}_is1).
; The data folder (%LOCALAPPDATA%\county-edu\school-client: store.db, backups, attachments, logs) is never
; touched by install, upgrade or uninstall: nothing in this script names it.
; Preconfigured installs: a school-client.ini beside the setup .exe (or in packaging\ when this script is compiled)
; is copied next to school-client.exe, so the clerk only types the enrollment code.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "学校数据采集客户端"
#define AppNameEn "School Data Client"
#define AppExe "school-client.exe"
#define Bundle "..\dist\school-client"

[Setup]
; Never change this id: it is how a new version finds and upgrades the installed one.
AppId={{6E2B9C4A-3F1D-4B8E-9A57-2C0D5E8F1A63}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=县教育局信息中心 County Education Bureau
DefaultDirName={autopf}\SchoolClient
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist\installer
OutputBaseFilename=school-client-setup-{#AppVersion}
SetupIconFile=..\client\resources\icon.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} ({#AppNameEn})
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Close a running client before files are replaced (an upgrade while the clerk has it open).
CloseApplications=yes
RestartApplications=no

[Languages]
#if FileExists(AddBackslash(CompilerPath) + "Languages\ChineseSimplified.isl")
Name: "zh_CN"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"
#endif
Name: "en"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[InstallDelete]
; Old program files go before the new ones are copied (an upgrade must not mix two versions' libraries).
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#if FileExists(AddBackslash(SourcePath) + "..\packaging\school-client.ini")
Source: "..\packaging\school-client.ini"; DestDir: "{app}"; Flags: ignoreversion
#endif
; A bureau's school-client.ini carried on the USB stick beside the setup program wins.
Source: "{src}\school-client.ini"; DestDir: "{app}"; Flags: external skipifsourcedoesntexist ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the program itself may leave in its own folder; the data folder is elsewhere and is kept.
Type: filesandordirs; Name: "{app}\_internal"
; Automatic updates (client/update/install.py) keep the version before the last update beside the program, and a
; version that failed its first start: <app>.previous, <app>.failed.
Type: filesandordirs; Name: "{app}.previous"
Type: filesandordirs; Name: "{app}.failed"
