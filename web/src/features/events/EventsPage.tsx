// Events page: being built (issue 5).
export default function EventsPage() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" className="page-title">
        Events
      </h1>
    </section>
  );
}
