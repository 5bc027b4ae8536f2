/* The disk walk and the inode table of envtui.core.disk, in C: the same figures as the pure-Python
 * InodeTable in walk.py (a test compares every figure), about three times faster, and the walk
 * runs without the GIL so a TUI keeps rendering while it goes.
 *
 * The walk is relative to directory file descriptors (openat O_NOFOLLOW|O_DIRECTORY, fstatat
 * AT_SYMLINK_NOFOLLOW), never follows a symlink, and skips the fstatat of a further link whose
 * d_ino is already in the table. That shortcut is guarded: every entry that is stat'ed must have
 * st_ino equal to the listing's d_ino; at the first one that does not (overlayfs, some FUSE), the
 * table stops trusting d_ino and stats everything.
 *
 * Only inodes with st_nlink > 1 enter the table (a file with one link cannot be met twice), so
 * memory grows with the hardlinked files. Directories never enter it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
#define STOP_EVERY 64 /* directories between two calls of should_stop */

/* -- growable arrays ------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap; /* in bytes */
} buf_t;

static int buf_reserve(buf_t *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buf_put(buf_t *b, const void *src, size_t n) {
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* -- the inode table ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t dev, ino;
    uint32_t k1; /* index + 1; 0 = empty slot */
} slot_t;

typedef struct {
    PyObject_HEAD
    slot_t *slots;
    size_t nslots, used;
    buf_t nlink, blocks, size; /* int64 per inode */
    buf_t mark;                /* int64 per inode: the last unit mark that saw it */
    int trust_dino;
    Py_ssize_t mismatches;
} Table;

static inline size_t hash2(uint64_t dev, uint64_t ino) {
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ (dev + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

static int table_grow(Table *t) {
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    slot_t *s = calloc(n, sizeof(slot_t));
    if (!s)
        return -1;
    for (size_t i = 0; i < t->nslots; i++) {
        slot_t *o = &t->slots[i];
        if (!o->k1)
            continue;
        size_t j = hash2(o->dev, o->ino) & (n - 1);
        while (s[j].k1)
            j = (j + 1) & (n - 1);
        s[j] = *o;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return 0;
}

/* The index of (dev, ino), or -1 if absent. */
static inline int64_t table_find(Table *t, uint64_t dev, uint64_t ino) {
    if (!t->nslots)
        return -1;
    size_t j = hash2(dev, ino) & (t->nslots - 1);
    while (t->slots[j].k1) {
        if (t->slots[j].ino == ino && t->slots[j].dev == dev)
            return (int64_t)t->slots[j].k1 - 1;
        j = (j + 1) & (t->nslots - 1);
    }
    return -1;
}

/* The index of st's inode, added if absent; -1 on memory error. */
static int64_t table_add(Table *t, const struct stat *st) {
    if ((t->used + 1) * 2 > t->nslots && table_grow(t) < 0)
        return -1;
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino;
    size_t j = hash2(dev, ino) & (t->nslots - 1);
    while (t->slots[j].k1) {
        if (t->slots[j].ino == ino && t->slots[j].dev == dev)
            return (int64_t)t->slots[j].k1 - 1;
        j = (j + 1) & (t->nslots - 1);
    }
    int64_t k = (int64_t)t->used;
    int64_t nl = (int64_t)st->st_nlink, bl = (int64_t)st->st_blocks * 512, sz = (int64_t)st->st_size, mk = -1;
    if (buf_put(&t->nlink, &nl, 8) < 0 || buf_put(&t->blocks, &bl, 8) < 0 || buf_put(&t->size, &sz, 8) < 0 ||
        buf_put(&t->mark, &mk, 8) < 0)
        return -1;
    t->slots[j].dev = dev;
    t->slots[j].ino = ino;
    t->slots[j].k1 = (uint32_t)(k + 1);
    t->used++;
    return k;
}

/* -- one walk --------------------------------------------------------------------------------- */

/* Asking should_stop from a walk that runs without the GIL. */
typedef struct {
    PyObject *should_stop; /* NULL: never stop */
    unsigned dirs;
    double last_check; /* monotonic seconds of the last should_stop call */
    PyThreadState *ts;
} stopper_t;

typedef struct {
    Table *t;
    int64_t files, apparent, blocks; /* blocks: 512-byte units of single-link inodes and dirs */
    buf_t found;                     /* uint32 inode index per link, in walk order */
    buf_t errs;                      /* records: int errno, size_t len, path bytes */
    buf_t cross;                     /* records: size_t len, path bytes */
    int nomem;
    int stopped;
    stopper_t stop;
} walk_t;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void note_path(buf_t *b, int err, int with_err, const char *path, size_t len) {
    if (with_err)
        buf_put(b, &err, sizeof err);
    buf_put(b, &len, sizeof len);
    buf_put(b, path, len);
}

static int account(walk_t *w, const struct stat *st) {
    w->files++;
    if (st->st_nlink <= 1 || S_ISDIR(st->st_mode)) {
        w->apparent += st->st_size;
        w->blocks += st->st_blocks;
        return 0;
    }
    int64_t k = table_add(w->t, st);
    if (k < 0)
        return -1;
    uint32_t k32 = (uint32_t)k;
    return buf_put(&w->found, &k32, 4);
}

static int check_stop(stopper_t *w) {
    if (!w->should_stop || ++w->dirs % STOP_EVERY)
        return 0;
    /* Taking the GIL back can wait a whole switch interval while another thread runs Python
     * (a TUI rendering): ask at most every 50 ms, not every few directories. */
    double now = now_seconds();
    if (now - w->last_check < 0.05)
        return 0;
    w->last_check = now;
    PyEval_RestoreThread(w->ts);
    PyObject *r = PyObject_CallNoArgs(w->should_stop);
    int stop = r ? PyObject_IsTrue(r) : 1; /* an exception in should_stop stops the walk */
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    w->ts = PyEval_SaveThread();
    return stop != 0;
}

typedef struct {
    DIR *dir;
    int fd;
    size_t pathlen; /* length of this directory's path in the path buffer */
    uint64_t dev;
} frame_t;

/* Walk the directory open at fd (path in *path, dev its st_dev) and everything below it. */
static void walk_dir(walk_t *w, int fd, buf_t *path, uint64_t dev) {
    buf_t stack = {0};
    frame_t top = {fdopendir(fd), fd, path->len, dev};
    if (!top.dir) {
        note_path(&w->errs, errno, 1, path->data, path->len);
        close(fd);
        return;
    }
    buf_put(&stack, &top, sizeof top);
    while (stack.len && !w->nomem) {
        frame_t *f = (frame_t *)(stack.data + stack.len - sizeof(frame_t));
        errno = 0;
        struct dirent *d = readdir(f->dir);
        if (!d) {
            if (errno)
                note_path(&w->errs, errno, 1, path->data, f->pathlen);
            closedir(f->dir);
            stack.len -= sizeof(frame_t);
            continue;
        }
        const char *name = d->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        Table *t = w->t;
        if (t->trust_dino && d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) {
            int64_t k = table_find(t, f->dev, (uint64_t)d->d_ino);
            if (k >= 0) { /* a further link to a known inode: nothing a stat would tell */
                uint32_t k32 = (uint32_t)k;
                w->files++;
                if (buf_put(&w->found, &k32, 4) < 0)
                    w->nomem = 1;
                continue;
            }
        }
        size_t nlen = strlen(name);
        path->len = f->pathlen;
        if (buf_put(path, "/", 1) < 0 || buf_put(path, name, nlen + 1) < 0) {
            w->nomem = 1;
            break;
        }
        path->len--; /* keep the NUL out of the length */
        struct stat st;
        if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                note_path(&w->errs, errno, 1, path->data, path->len);
            continue;
        }
        if ((uint64_t)st.st_ino != (uint64_t)d->d_ino) { /* d_ino cannot be trusted here */
            t->trust_dino = 0;
            t->mismatches++;
        }
        if (account(w, &st) < 0) {
            w->nomem = 1;
            break;
        }
        if (!S_ISDIR(st.st_mode))
            continue;
        if (check_stop(&w->stop)) {
            w->stopped = 1;
            break;
        }
        int cfd = openat(f->fd, name, DIR_FLAGS);
        if (cfd < 0) {
            if (errno != ENOENT)
                note_path(&w->errs, errno, 1, path->data, path->len);
            continue;
        }
        if ((uint64_t)st.st_dev != f->dev)
            note_path(&w->cross, 0, 0, path->data, path->len);
        frame_t child = {fdopendir(cfd), cfd, path->len, (uint64_t)st.st_dev};
        if (!child.dir) {
            note_path(&w->errs, errno, 1, path->data, path->len);
            close(cfd);
            continue;
        }
        if (buf_put(&stack, &child, sizeof child) < 0) {
            closedir(child.dir);
            w->nomem = 1;
        }
    }
    while (stack.len) { /* stopped early: close what is open */
        stack.len -= sizeof(frame_t);
        closedir(((frame_t *)(stack.data + stack.len))->dir);
    }
    free(stack.data);
}

static void walk_path(walk_t *w, const char *p, size_t plen) {
    struct stat st;
    if (fstatat(AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            note_path(&w->errs, errno, 1, p, plen);
        return;
    }
    if (account(w, &st) < 0) {
        w->nomem = 1;
        return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    int fd = open(p, DIR_FLAGS);
    if (fd < 0) {
        if (errno != ENOENT)
            note_path(&w->errs, errno, 1, p, plen);
        return;
    }
    buf_t path = {0};
    if (buf_put(&path, p, plen + 1) < 0) {
        close(fd);
        w->nomem = 1;
        return;
    }
    path.len = plen;
    walk_dir(w, fd, &path, (uint64_t)st.st_dev);
    free(path.data);
}

static PyObject *decode_paths(buf_t *b, int with_err) {
    PyObject *out = PyList_New(0);
    size_t at = 0;
    while (out && at < b->len) {
        int err = 0;
        size_t len;
        if (with_err) {
            memcpy(&err, b->data + at, sizeof err);
            at += sizeof err;
        }
        memcpy(&len, b->data + at, sizeof len);
        at += sizeof len;
        PyObject *s = PyUnicode_DecodeFSDefaultAndSize(b->data + at, (Py_ssize_t)len);
        at += len;
        PyObject *item = s && with_err ? Py_BuildValue("(Ni)", s, err) : s;
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(item);
    }
    return out;
}

/* One unit's results, built without the GIL. */
typedef struct {
    int64_t files, apparent, disk, own_apparent, own_disk, new_apparent, new_disk;
    buf_t found, inodes, errs, cross;
} unit_t;

static void unit_free(unit_t *u) {
    free(u->found.data);
    free(u->inodes.data);
    free(u->errs.data);
    free(u->cross.data);
}

/* After a unit's walk: each of its inodes once; those no earlier unit of the same mark met are new.
 * Returns -1 on memory error. */
static int unit_finish(Table *t, walk_t *w, int64_t mark, unit_t *u) {
    u->files = w->files;
    u->own_apparent = u->apparent = w->apparent;
    u->own_disk = u->disk = w->blocks * 512;
    u->found = w->found;
    u->errs = w->errs;
    u->cross = w->cross;
    uint32_t *found = (uint32_t *)u->found.data;
    size_t nfound = u->found.len / 4;
    int64_t *marks = (int64_t *)t->mark.data, *sizes = (int64_t *)t->size.data, *blocks = (int64_t *)t->blocks.data;
    /* During this pass an inode of the unit is marked -3 (new to the mark) or -2 (known). */
    for (size_t i = 0; i < nfound; i++) {
        uint32_t k = found[i];
        int64_t m = marks[k];
        if (m == -2 || m == -3)
            continue; /* a second link inside the unit */
        u->apparent += sizes[k];
        u->disk += blocks[k];
        if (m != mark) {
            u->new_apparent += sizes[k];
            u->new_disk += blocks[k];
        }
        marks[k] = m != mark ? -3 : -2;
        if (buf_put(&u->inodes, &k, 4) < 0)
            return -1;
    }
    for (size_t i = 0; i < u->inodes.len / 4; i++)
        marks[((uint32_t *)u->inodes.data)[i]] = mark;
    return 0;
}

static PyObject *unit_tuple(unit_t *u) {
    PyObject *errs = decode_paths(&u->errs, 1), *cross = decode_paths(&u->cross, 0);
    if (!errs || !cross) {
        Py_XDECREF(errs);
        Py_XDECREF(cross);
        return NULL;
    }
    return Py_BuildValue("(LLLLLy#y#LLNN)", (long long)u->files, (long long)u->apparent, (long long)u->disk,
                         (long long)u->own_apparent, (long long)u->own_disk, u->found.data ? u->found.data : "",
                         (Py_ssize_t)u->found.len, u->inodes.data ? u->inodes.data : "", (Py_ssize_t)u->inodes.len,
                         (long long)u->new_apparent, (long long)u->new_disk, errs, cross);
}

static const char WALK_UNITS_DOC[] =
    "walk_units(units, marks, start=0, budget=inf, should_stop=None)\n--\n\n"
    "Walk the units ``units[start:]`` (each a list of str paths) with marks ``marks[start:]``, in\n"
    "one call without the GIL, until all are done or ``budget`` seconds have passed (checked\n"
    "between units). Returns ``None`` when ``should_stop()`` turned true, else a list with one\n"
    "tuple per unit walked: see InodeTable.walk_unit in walk.py.";

static PyObject *Table_walk_units(Table *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"units", "marks", "start", "budget", "should_stop", NULL};
    PyObject *units_arg, *marks_arg, *should_stop = Py_None;
    Py_ssize_t start = 0;
    double budget = 1e300;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|ndO", kwlist, &units_arg, &marks_arg, &start, &budget, &should_stop))
        return NULL;
    PyObject *units = PySequence_Fast(units_arg, "units must be a sequence");
    PyObject *marks = units ? PySequence_Fast(marks_arg, "marks must be a sequence") : NULL;
    if (!marks) {
        Py_XDECREF(units);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(units);
    if (PySequence_Fast_GET_SIZE(marks) != n || start < 0 || start > n) {
        Py_DECREF(units);
        Py_DECREF(marks);
        PyErr_SetString(PyExc_ValueError, "units and marks differ in length, or start is out of range");
        return NULL;
    }
    Py_ssize_t count = n - start, total = 0;
    /* Encode every path with the GIL: per unit its first path's index in a flat array. */
    Py_ssize_t *first = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    int64_t *mark_of = PyMem_Calloc((size_t)count + 1, sizeof(int64_t));
    unit_t *out = PyMem_Calloc((size_t)count + 1, sizeof(unit_t));
    PyObject **enc = NULL;
    PyObject *result = NULL;
    Py_ssize_t nenc = 0;
    if (!first || !mark_of || !out) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t len = PySequence_Size(PySequence_Fast_GET_ITEM(units, start + i));
        if (len < 0)
            goto done;
        total += len;
        mark_of[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(marks, start + i));
        if (mark_of[i] == -1 && PyErr_Occurred())
            goto done;
        if (mark_of[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "a mark must be >= 0");
            goto done;
        }
    }
    enc = PyMem_Calloc((size_t)total + 1, sizeof(PyObject *));
    if (!enc) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        first[i] = nenc;
        PyObject *members = PySequence_Fast(PySequence_Fast_GET_ITEM(units, start + i), "a unit must be a sequence of paths");
        if (!members)
            goto done;
        for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(members); j++) {
            if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(members, j), &enc[nenc])) {
                Py_DECREF(members);
                goto done;
            }
            nenc++;
        }
        Py_DECREF(members);
    }
    first[count] = nenc;
    Py_ssize_t walked = 0;
    int stopped = 0, nomem = 0;
    walk_t w = {.t = t, .stop = {.should_stop = should_stop == Py_None ? NULL : should_stop}};
    w.stop.ts = PyEval_SaveThread();
    double began = now_seconds();
    w.stop.last_check = began;
    for (Py_ssize_t i = 0; i < count && !stopped && !nomem; i++) {
        w.files = w.apparent = w.blocks = 0;
        w.found = w.errs = w.cross = (buf_t){0};
        for (Py_ssize_t j = first[i]; j < first[i + 1] && !w.stopped && !w.nomem; j++)
            walk_path(&w, PyBytes_AS_STRING(enc[j]), (size_t)PyBytes_GET_SIZE(enc[j]));
        stopped = w.stopped;
        nomem = w.nomem;
        if (stopped || nomem || unit_finish(t, &w, mark_of[i], &out[i]) < 0) {
            /* unit_finish took the buffers when it ran; free them once, either way */
            if (out[i].found.data != w.found.data) {
                free(w.found.data);
                free(w.errs.data);
                free(w.cross.data);
            }
            nomem = nomem || !stopped;
            break;
        }
        walked++;
        if (now_seconds() - began >= budget)
            break;
    }
    PyEval_RestoreThread(w.stop.ts);
    if (nomem) {
        PyErr_NoMemory();
    } else if (stopped) {
        result = Py_NewRef(Py_None);
    } else if ((result = PyList_New(walked))) {
        for (Py_ssize_t i = 0; i < walked; i++) {
            PyObject *item = unit_tuple(&out[i]);
            if (!item) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, i, item);
        }
    }
done:
    for (Py_ssize_t i = 0; i < nenc; i++)
        Py_DECREF(enc[i]);
    if (out)
        for (Py_ssize_t i = 0; i < count; i++)
            unit_free(&out[i]);
    PyMem_Free(enc);
    PyMem_Free(first);
    PyMem_Free(mark_of);
    PyMem_Free(out);
    Py_DECREF(units);
    Py_DECREF(marks);
    return result;
}

static const char WALK_DOC[] =
    "walk_unit(members, mark, should_stop=None)\n--\n\n"
    "Walk every path of ``members`` (a list of str) and what lies below it. Returns ``None`` when\n"
    "``should_stop()`` turned true, else ``(files, apparent, disk, own_apparent, own_disk, found,\n"
    "inodes, new_apparent, new_disk, errors, crossings)``: see InodeTable.walk_unit in walk.py.";

static PyObject *Table_walk_unit(Table *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"members", "mark", "should_stop", NULL};
    PyObject *members, *mark, *should_stop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O", kwlist, &members, &mark, &should_stop))
        return NULL;
    PyObject *call = Py_BuildValue("([O][O]ndO)", members, mark, (Py_ssize_t)0, 1e300, should_stop);
    if (!call)
        return NULL;
    PyObject *r = Table_walk_units(t, call, NULL);
    Py_DECREF(call);
    if (!r || r == Py_None)
        return r;
    PyObject *one = Py_NewRef(PyList_GET_ITEM(r, 0));
    Py_DECREF(r);
    return one;
}

static PyObject *Table_arrays(Table *t, PyObject *args) {
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "|n", &start))
        return NULL;
    size_t at = start < 0 ? 0 : (size_t)start * 8;
    if (at > t->nlink.len)
        at = t->nlink.len;
    return Py_BuildValue("(y#y#y#)", t->nlink.data ? t->nlink.data + at : "", (Py_ssize_t)(t->nlink.len - at),
                         t->blocks.data ? t->blocks.data + at : "", (Py_ssize_t)(t->blocks.len - at),
                         t->size.data ? t->size.data + at : "", (Py_ssize_t)(t->size.len - at));
}

static PyObject *Table_find(Table *t, PyObject *args) {
    unsigned long long dev, ino;
    if (!PyArg_ParseTuple(args, "KK", &dev, &ino))
        return NULL;
    return PyLong_FromLongLong((long long)table_find(t, (uint64_t)dev, (uint64_t)ino));
}

static PyObject *Table_get_mismatches(Table *t, void *unused) { return PyLong_FromSsize_t(t->mismatches); }
static PyObject *Table_get_trust(Table *t, void *unused) { return PyBool_FromLong(t->trust_dino); }
static Py_ssize_t Table_len(Table *t) { return (Py_ssize_t)t->used; }

static int Table_init(Table *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"trust_dino", NULL};
    int trust = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &trust))
        return -1;
    t->trust_dino = trust;
    return 0;
}

static void Table_dealloc(Table *t) {
    free(t->slots);
    free(t->nlink.data);
    free(t->blocks.data);
    free(t->size.data);
    free(t->mark.data);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef Table_methods[] = {
    {"walk_unit", (PyCFunction)(void (*)(void))Table_walk_unit, METH_VARARGS | METH_KEYWORDS, WALK_DOC},
    {"walk_units", (PyCFunction)(void (*)(void))Table_walk_units, METH_VARARGS | METH_KEYWORDS, WALK_UNITS_DOC},
    {"find", (PyCFunction)Table_find, METH_VARARGS,
     "find(dev, ino)\n--\n\nThe table index of the inode (dev, ino), or -1 if the walk never met it."},
    {"arrays", (PyCFunction)Table_arrays, METH_VARARGS,
     "arrays(start=0)\n--\n\n(nlink, blocks, size): the table's int64 columns from row ``start`` on, as bytes\n"
     "(blocks in bytes)."},
    {NULL},
};

static PyGetSetDef Table_getset[] = {
    {"mismatches", (getter)Table_get_mismatches, NULL, "Stat'ed entries whose st_ino differed from d_ino.", NULL},
    {"trust_dino", (getter)Table_get_trust, NULL, "Whether further links are still skipped by d_ino.", NULL},
    {NULL},
};

static PySequenceMethods Table_as_sequence = {.sq_length = (lenfunc)Table_len};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "envtui.core.disk._cwalk.InodeTable",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The inode table of one scan, and its walker (see walk.py's InodeTable).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Table_init,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_methods = Table_methods,
    .tp_getset = Table_getset,
    .tp_as_sequence = &Table_as_sequence,
};


/* -- where each inode's links lie ---------------------------------------------------------------- */

enum { ALONE = 1, OUTSIDE = 2, ENV1 = 4, ENV2 = 8, WHEEL1 = 16, WHEEL2 = 32, OTHER1 = 64, OTHER2 = 128 };
enum { KIND_OTHER = 0, KIND_ENV = 1, KIND_WHEEL = 2 };

typedef struct {
    const uint32_t *found, *inodes;
    size_t nfound, ninodes;
    long kind, bucket;
    Py_buffer fbuf, ibuf; /* held until the end of the call */
    int held;
} cunit_t;

static const char CLASSIFY_DOC[] =
    "classify(nlink, blocks, units, nbuckets)\n--\n\n"
    "The figures scan.py's _classify_units computes, in C (see there): ``nlink`` and ``blocks`` the\n"
    "table's int64 columns as bytes, ``units`` a list of ``(found, inodes, kind, bucket)`` (uint32\n"
    "bytes; kind 0 other, 1 environment, 2 unpacked wheel). Returns ``(bucket_exclusive, figures,\n"
    "uses)``.";

static PyObject *cwalk_classify(PyObject *mod, PyObject *args) {
    (void)mod;
    Py_buffer nl, bl;
    PyObject *units_arg;
    Py_ssize_t nbuckets;
    if (!PyArg_ParseTuple(args, "y*y*On", &nl, &bl, &units_arg, &nbuckets))
        return NULL;
    PyObject *units = PySequence_Fast(units_arg, "units must be a sequence"), *result = NULL;
    size_t n = (size_t)nl.len / 8;
    Py_ssize_t nu = units ? PySequence_Fast_GET_SIZE(units) : 0;
    cunit_t *cu = units ? PyMem_Calloc((size_t)nu + 1, sizeof(cunit_t)) : NULL;
    int64_t *cnt = calloc(5 * n + 1, sizeof(int64_t)), *bexcl = calloc((size_t)nbuckets + 1, sizeof(int64_t));
    uint8_t *multi = calloc(n + 1, 1);
    if (!units || !cu || !cnt || !bexcl || !multi || (size_t)bl.len / 8 != n || nbuckets < 0) {
        if (units && !PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "bad columns, or out of memory");
        goto done;
    }
    int64_t *found = cnt, *owners = cnt + n, *envs = cnt + 2 * n, *wheels = cnt + 3 * n, *bucket_of = cnt + 4 * n;
    const int64_t *nlink = nl.buf, *blocks = bl.buf;
    for (size_t k = 0; k < n; k++)
        bucket_of[k] = -1;
    for (Py_ssize_t i = 0; i < nu; i++) {
        PyObject *u = PySequence_Fast_GET_ITEM(units, i);
        if (!PyArg_ParseTuple(u, "y*y*ll", &cu[i].fbuf, &cu[i].ibuf, &cu[i].kind, &cu[i].bucket))
            goto done;
        cu[i].held = 1;
        const char *f = cu[i].fbuf.buf, *in = cu[i].ibuf.buf;
        Py_ssize_t flen = cu[i].fbuf.len, ilen = cu[i].ibuf.len;
        if (cu[i].bucket < 0 || cu[i].bucket >= nbuckets) {
            PyErr_SetString(PyExc_ValueError, "a unit's bucket is out of range");
            goto done;
        }
        cu[i].found = (const uint32_t *)f, cu[i].nfound = (size_t)flen / 4;
        cu[i].inodes = (const uint32_t *)in, cu[i].ninodes = (size_t)ilen / 4;
        for (size_t j = 0; j < cu[i].nfound; j++)
            if (cu[i].found[j] >= n) {
                PyErr_SetString(PyExc_ValueError, "an inode index is out of range");
                goto done;
            }
        for (size_t j = 0; j < cu[i].ninodes; j++)
            if (cu[i].inodes[j] >= n) {
                PyErr_SetString(PyExc_ValueError, "an inode index is out of range");
                goto done;
            }
    }
    uint8_t *codes = multi; /* reused below: multi is read before codes[k] is written */
    int64_t *wheel_of = envs; /* likewise: envs[k] is read into codes first */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < nu; i++) {
        cunit_t *u = &cu[i];
        for (size_t j = 0; j < u->nfound; j++)
            found[u->found[j]]++;
        for (size_t j = 0; j < u->ninodes; j++) {
            uint32_t k = u->inodes[j];
            owners[k]++;
            if (u->kind == KIND_ENV)
                envs[k]++;
            else if (u->kind == KIND_WHEEL)
                wheels[k]++;
            if (bucket_of[k] == -1)
                bucket_of[k] = u->bucket;
            else if (bucket_of[k] != u->bucket)
                multi[k] = 1;
        }
    }
    for (size_t k = 0; k < n; k++) {
        int whole = found[k] >= nlink[k];
        if (whole && !multi[k] && bucket_of[k] >= 0)
            bexcl[bucket_of[k]] += blocks[k];
        int64_t e = envs[k], w = wheels[k], o = owners[k] - e - w;
        codes[k] = (uint8_t)((whole && owners[k] == 1 ? ALONE : 0) | (whole ? 0 : OUTSIDE) | (e >= 1 ? ENV1 : 0) |
                             (e >= 2 ? ENV2 : 0) | (w >= 1 ? WHEEL1 : 0) | (w >= 2 ? WHEEL2 : 0) | (o >= 1 ? OTHER1 : 0) |
                             (o >= 2 ? OTHER2 : 0));
        wheel_of[k] = -1;
    }
    for (Py_ssize_t i = 0; i < nu; i++)
        if (cu[i].kind == KIND_WHEEL)
            for (size_t j = 0; j < cu[i].ninodes; j++) {
                uint32_t k = cu[i].inodes[j];
                wheel_of[k] = wheel_of[k] == -1 ? i : -2;
            }
    Py_END_ALLOW_THREADS
    PyObject *bex = PyList_New(nbuckets), *figs = PyList_New(nu), *uses = PyList_New(nu);
    if (!bex || !figs || !uses) {
        Py_XDECREF(bex);
        Py_XDECREF(figs);
        Py_XDECREF(uses);
        goto done;
    }
    for (Py_ssize_t b = 0; b < nbuckets; b++)
        PyList_SET_ITEM(bex, b, PyLong_FromLongLong(bexcl[b]));
    for (Py_ssize_t i = 0; i < nu; i++) {
        cunit_t *u = &cu[i];
        int env_bit = u->kind == KIND_ENV ? ENV2 : ENV1, wheel_bit = u->kind == KIND_WHEEL ? WHEEL2 : WHEEL1;
        int other_bit = u->kind == KIND_OTHER ? OTHER2 : OTHER1;
        long long f[5] = {0, 0, 0, 0, 0};
        for (size_t j = 0; j < u->ninodes; j++) {
            uint32_t k = u->inodes[j];
            int c = codes[k];
            int64_t b = blocks[k];
            if (c & ALONE) {
                f[0] += b;
                continue;
            }
            if (c & env_bit)
                f[1] += b;
            if (c & wheel_bit)
                f[2] += b;
            if (c & other_bit)
                f[3] += b;
            if (c & OUTSIDE)
                f[4] += b;
        }
        PyList_SET_ITEM(figs, i, Py_BuildValue("(LLLLL)", f[0], f[1], f[2], f[3], f[4]));
        PyObject *used = NULL;
        if (u->kind == KIND_ENV && u->ninodes) {
            /* The wheel units this environment's inodes lie in: each once, sorted. */
            PyObject *set = PySet_New(NULL);
            for (size_t j = 0; set && j < u->ninodes; j++) {
                int64_t wi = wheel_of[u->inodes[j]];
                if (wi >= 0) {
                    PyObject *x = PyLong_FromLongLong(wi);
                    if (!x || PySet_Add(set, x) < 0)
                        Py_CLEAR(set);
                    Py_XDECREF(x);
                }
            }
            PyObject *lst = set ? PySequence_List(set) : NULL;
            Py_XDECREF(set);
            if (lst && PyList_Sort(lst) == 0)
                used = PyList_AsTuple(lst);
            Py_XDECREF(lst);
            if (!used) {
                Py_DECREF(bex);
                Py_DECREF(figs);
                Py_DECREF(uses);
                goto done;
            }
        } else {
            used = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(uses, i, used);
    }
    result = Py_BuildValue("(NNN)", bex, figs, uses);
done:
    free(cnt);
    free(bexcl);
    free(multi);
    for (Py_ssize_t i = 0; cu && i < nu; i++)
        if (cu[i].held) {
            PyBuffer_Release(&cu[i].fbuf);
            PyBuffer_Release(&cu[i].ibuf);
        }
    PyMem_Free(cu);
    Py_XDECREF(units);
    PyBuffer_Release(&nl);
    PyBuffer_Release(&bl);
    return result;
}

/* -- every symlink below a directory ----------------------------------------------------------- */

typedef struct {
    DIR *dir;
    size_t pathlen;
} lframe_t;

/* Records: size_t len, path bytes, size_t len, target bytes (links); int errno, size_t len, path
 * bytes (errors). */
static int links_dir(int fd, buf_t *path, buf_t *links, buf_t *errs, stopper_t *stop) {
    buf_t stack = {0};
    int nomem = 0, stopped = 0;
    lframe_t top = {fdopendir(fd), path->len};
    if (!top.dir) {
        note_path(errs, errno, 1, path->data, path->len);
        close(fd);
        return 0;
    }
    char target[PATH_MAX + 1];
    buf_put(&stack, &top, sizeof top);
    while (stack.len && !nomem && !stopped) {
        lframe_t *f = (lframe_t *)(stack.data + stack.len - sizeof(lframe_t));
        int dfd = dirfd(f->dir);
        errno = 0;
        struct dirent *d = readdir(f->dir);
        if (!d) {
            if (errno)
                note_path(errs, errno, 1, path->data, f->pathlen);
            closedir(f->dir);
            stack.len -= sizeof(lframe_t);
            continue;
        }
        const char *name = d->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        unsigned char type = d->d_type;
        if (type != DT_LNK && type != DT_DIR && type != DT_UNKNOWN)
            continue;
        size_t nlen = strlen(name);
        path->len = f->pathlen;
        if (buf_put(path, "/", 1) < 0 || buf_put(path, name, nlen + 1) < 0) {
            nomem = 1;
            break;
        }
        path->len--;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                    note_path(errs, errno, 1, path->data, path->len);
                continue;
            }
            type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        }
        if (type == DT_LNK) {
            ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
            if (n < 0) {
                if (errno != ENOENT && errno != EINVAL) /* EINVAL: replaced by a non-link since */
                    note_path(errs, errno, 1, path->data, path->len);
                continue;
            }
            size_t tlen = (size_t)n;
            if (buf_put(links, &path->len, sizeof path->len) < 0 || buf_put(links, path->data, path->len) < 0 ||
                buf_put(links, &tlen, sizeof tlen) < 0 || buf_put(links, target, tlen) < 0)
                nomem = 1;
            continue;
        }
        if (type != DT_DIR)
            continue;
        if (check_stop(stop)) {
            stopped = 1;
            break;
        }
        int cfd = openat(dfd, name, DIR_FLAGS);
        if (cfd < 0) {
            if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) /* replaced since the listing */
                note_path(errs, errno, 1, path->data, path->len);
            continue;
        }
        lframe_t child = {fdopendir(cfd), path->len};
        if (!child.dir) {
            note_path(errs, errno, 1, path->data, path->len);
            close(cfd);
            continue;
        }
        if (buf_put(&stack, &child, sizeof child) < 0) {
            closedir(child.dir);
            nomem = 1;
        }
    }
    while (stack.len) {
        stack.len -= sizeof(lframe_t);
        closedir(((lframe_t *)(stack.data + stack.len))->dir);
    }
    free(stack.data);
    return nomem ? -1 : stopped ? 1 : 0;
}

static PyObject *decode_links(buf_t *b) {
    PyObject *out = PyList_New(0);
    size_t at = 0;
    while (out && at < b->len) {
        size_t plen, tlen;
        memcpy(&plen, b->data + at, sizeof plen);
        at += sizeof plen;
        const char *p = b->data + at;
        at += plen;
        memcpy(&tlen, b->data + at, sizeof tlen);
        at += sizeof tlen;
        PyObject *item = Py_BuildValue("(NN)", PyUnicode_DecodeFSDefaultAndSize(p, (Py_ssize_t)plen),
                                       PyUnicode_DecodeFSDefaultAndSize(b->data + at, (Py_ssize_t)tlen));
        at += tlen;
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(out);
        } else {
            Py_DECREF(item);
        }
    }
    return out;
}

static const char LINKS_DOC[] =
    "list_links(top, should_stop=None)\n--\n\n"
    "Every symlink below the directory ``top`` (a str; never following a link, ``top`` itself\n"
    "excluded), without the GIL. Returns ``None`` when ``should_stop()`` turned true, else\n"
    "``(links, errors)``: ``links`` a list of ``(path, target)``, path spelled from ``top``, target\n"
    "as ``readlink`` gives it; ``errors`` a list of ``(path, errno)`` of what could not be listed or\n"
    "read (a vanished entry is no error). See walk.py's list_links.";

static PyObject *cwalk_list_links(PyObject *mod, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"top", "should_stop", NULL};
    PyObject *top_arg, *should_stop = Py_None, *enc = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &top_arg, &should_stop))
        return NULL;
    if (!PyUnicode_FSConverter(top_arg, &enc))
        return NULL;
    buf_t path = {0}, links = {0}, errs = {0};
    size_t plen = (size_t)PyBytes_GET_SIZE(enc);
    int r = buf_put(&path, PyBytes_AS_STRING(enc), plen + 1) < 0 ? -1 : 0;
    path.len = plen;
    stopper_t stop = {.should_stop = should_stop == Py_None ? NULL : should_stop};
    if (r == 0) {
        stop.ts = PyEval_SaveThread(); /* last_check 0: the first question comes after 64 directories */
        int fd = open(path.data, DIR_FLAGS);
        if (fd < 0) {
            if (errno != ENOENT)
                note_path(&errs, errno, 1, path.data, path.len);
        } else {
            r = links_dir(fd, &path, &links, &errs, &stop);
        }
        PyEval_RestoreThread(stop.ts);
    }
    Py_DECREF(enc);
    PyObject *result = NULL;
    if (r < 0) {
        PyErr_NoMemory();
    } else if (r > 0) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *l = decode_links(&links), *e = decode_paths(&errs, 1);
        result = l && e ? Py_BuildValue("(NN)", l, e) : NULL;
        if (!result) {
            Py_XDECREF(l);
            Py_XDECREF(e);
        }
    }
    free(path.data);
    free(links.data);
    free(errs.data);
    return result;
}

static PyMethodDef module_methods[] = {
    {"list_links", (PyCFunction)(void (*)(void))cwalk_list_links, METH_VARARGS | METH_KEYWORDS, LINKS_DOC},
    {"classify", (PyCFunction)cwalk_classify, METH_VARARGS, CLASSIFY_DOC},
    {NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cwalk", "envtui's native disk walker.", -1, module_methods};

PyMODINIT_FUNC PyInit__cwalk(void) {
    if (PyType_Ready(&TableType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "InodeTable", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
