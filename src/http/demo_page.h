/* demo_page.h - the HTML page served at "/" (demo_page.c). Immutable. */
#ifndef SH_DEMO_PAGE_H
#define SH_DEMO_PAGE_H

extern const char sh_demo_page[];

#endif /* SH_DEMO_PAGE_H */
