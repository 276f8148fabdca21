// Users page: being built (issue 5).
export default function UsersPage() {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title" className="page-title">
        Users
      </h1>
    </section>
  );
}
