"""fdleak's Python side, standard library only: the launcher and the report tools.

    settings   the FDLEAK_* settings, read from settings.def (the table the library uses)
    cli        the command line: fdleak [options] command | report | baseline | check
    launcher   find libfdleak.so, preload it and exec the command; --pid
    model      a JSON report as typed objects, validated once
    text       the text report, the mirror of src/report_text.c
    merge      report --merge (and the process tree)
    symbolize  report --symbolize (addr2line)
    html       report --html (page.css, onerror.js and page.js beside it)
    baseline   baseline and check

The start-up hook (sitecustomize.py) and the pytest plugin beside this package do not import it:
they run inside the checked program's interpreter, of any version."""
