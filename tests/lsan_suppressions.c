/*
 * Linked into the sanitizer builds (jpki, unit tests) only: fontconfig (under cairo,
 * drawing the window's PDFs) keeps its font cache for the life of the
 * process by design and never frees it, which LeakSanitizer would report
 * at every exit.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\n";
}
