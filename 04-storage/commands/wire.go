package commands

import (
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
)

// Lesson04 makes the engine with lesson 04's implementations (the programs
// 04-storage and, until lesson 05 adds networks, minibox use it): containers
// get their file systems from containerfs (image layers, a snapshot per
// container, volumes), and images come from its image store.
func Lesson04(g Globals) (*engine.Engine, error) { return WithLesson04(g, nil) }

// WithLesson04 is Lesson04 for a later lesson that adds to the options
// (lesson 05 its Networks); more runs before the engine is made, and then
// gets the engine (e.g. to find containers by name).
func WithLesson04(g Globals, more func(o *engine.Options) (func(e *engine.Engine), error)) (*engine.Engine, error) {
	rts, err := g.Runtimes()
	if err != nil {
		return nil, err
	}
	st, err := containerfs.New(g.DataRoot)
	if err != nil {
		return nil, err
	}
	st.DefaultDriver = g.StorageDriver
	o := engine.Options{
		DataRoot:       g.DataRoot,
		ExecRoot:       g.ExecRoot,
		Storage:        st,
		Images:         st.Images,
		Runtimes:       rts,
		DefaultRuntime: g.DefaultRuntime,
	}
	var then func(e *engine.Engine)
	if more != nil {
		if then, err = more(&o); err != nil {
			return nil, err
		}
	}
	e, err := engine.New(o)
	if err != nil {
		return nil, err
	}
	if then != nil {
		then(e)
	}
	// --volumes-from names a container: the engine finds it.
	st.Lookup = func(ref string) (*engine.Container, error) {
		in, err := e.Inspect(ref)
		if err != nil {
			return nil, err
		}
		return in.Container, nil
	}
	return e, nil
}
