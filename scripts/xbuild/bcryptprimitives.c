/* Stand-in bcryptprimitives.dll for Wine 8, which lacks ProcessPrng. Rust's std on
 * Windows gets its random bytes from ProcessPrng; here they come from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. Used only for the Wine smoke test. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
