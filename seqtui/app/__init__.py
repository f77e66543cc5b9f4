"""app: the Textual application. Only the command line (seqtui.cli) imports this package.

    app        SeqtuiApp: its screens, keys, quitting, screenshots, the command palette; make_app
    base       SeqtuiAppBase: what the screens share (the runs root, the open run, the followers);
               the screens are typed against it
    followed   the keys of what the app follows: a run's path, a comparison, a sweep
    messages   small typed messages from workers and followers to the screens
    screens/   runs, train, probe, evaluate, gradients, compare, sweeps; dialogs; the shared base
    widgets/   the plotext chart and the half-block heatmap
    serve      `seqtui serve`: the app in a browser through textual-serve
    seqtui.tcss  layout and colours

The app never trains in its own process: it starts `seqtui train` (seqtui.session.launch) and
follows run directories (seqtui.store), so it may quit or lose its terminal at any time.
"""

from seqtui.app.app import SeqtuiApp, make_app

__all__ = ["SeqtuiApp", "make_app"]
