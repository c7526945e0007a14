"""Origins survive fork: a multiprocessing child (the fork start method) started from a thread
this program starts; in the child, tempfile.mkstemp (the child's target: no frame of this
program's own between it and the thread's bootstrap) leaves a descriptor open when the child
ends. The child's report must name the line that started the thread, through the thread's
origin, which the child inherited with the forking thread."""
import multiprocessing
import shutil
import tempfile
import threading

d = tempfile.mkdtemp(prefix="fdleak-forkhandoff-")
p = multiprocessing.get_context("fork").Process(target=tempfile.mkstemp, kwargs={"dir": d})
t = threading.Thread(target=p.start)
t.start()  # LEAK child via=thread
t.join()
p.join()
p.close()
shutil.rmtree(d)
