/* argv-recorder: writes its arguments after the first as a JSON array of strings (UTF-8)
 * to the file named by the first, through a temporary file renamed into place.
 * Built for Windows by scripts/cross-check (x86_64-w64-mingw32-gcc -municode), where it
 * shows the argv a program gets from the command line our external applications build:
 * wmain's argv is split by the C runtime, as most Windows programs' is. */
#include <stdio.h>
#include <wchar.h>
#include <windows.h>

static void put(FILE *f, const wchar_t *s) {
    char buf[8];
    fputc('"', f);
    for (; *s; s++) {
        wchar_t c = *s;
        if (c == L'"' || c == L'\\') {
            fputc('\\', f);
            fputc((int)c, f);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", (unsigned)c);
        } else {
            /* One UTF-16 unit, or a surrogate pair, to UTF-8. */
            int units = (c >= 0xD800 && c <= 0xDBFF && s[1]) ? 2 : 1;
            int n = WideCharToMultiByte(CP_UTF8, 0, s, units, buf, sizeof buf, NULL, NULL);
            fwrite(buf, 1, (size_t)n, f);
            s += units - 1;
        }
    }
    fputc('"', f);
}

int wmain(int argc, wchar_t **argv) {
    wchar_t tmp[4096];
    FILE *f;
    int i;
    if (argc < 2 || wcslen(argv[1]) > 4000) return 2;
    swprintf(tmp, 4096, L"%ls.tmp", argv[1]);
    f = _wfopen(tmp, L"wb");
    if (!f) return 3;
    fputc('[', f);
    for (i = 2; i < argc; i++) {
        if (i > 2) fputc(',', f);
        put(f, argv[i]);
    }
    fputc(']', f);
    fclose(f);
    return MoveFileExW(tmp, argv[1], MOVEFILE_REPLACE_EXISTING) ? 0 : 4;
}
