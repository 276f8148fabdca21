// Grants page: being built (issue 5).
export default function GrantsPage() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" className="page-title">
        Grants
      </h1>
    </section>
  );
}
